"""workflow: the API's schemas, one pydantic model per API object (shared by request
validation, the responses and the OpenAPI document).

Why pydantic v2, and no extension on top of it: pydantic is the best kept of the
candidates, typed (mypy checks the fields the views read), fast (a Rust core), and its
``model_json_schema()`` speaks JSON Schema 2020-12, which *is* OpenAPI 3.1's schema
dialect, so the document needs no translation layer. spectree and flask-openapi3 were
weighed and not taken: both wrap the views (flask-openapi3 even replaces ``Flask`` and
``Blueprint``), answer validation errors in their own format (the API's contract is RFC
9457 problem+json with a Vietnamese ``detail``), parse multipart bodies themselves (ours
are streamed to disk under a size limit, :mod:`workflow.uploads`) and add routes of
their own. apispec with marshmallow would add two libraries and an untyped schema layer.
So the views parse explicitly (``parse(Model, json_body())``), answer with
``Model.of(...)``, and :mod:`workflow.openapi` assembles the document from the models
and the app's real ``url_map``.

One package rather than a ``schemas.py`` in each domain package: the same objects cross
domains (a document and its tasks are answered by the signing, issuance and dispatch
endpoints too), and domain packages do not import one another, while every one of them
may import this shared package. One module per domain, named like the packages:
:mod:`.base` (the base classes, the Vietnamese validation messages), :mod:`.accounts`,
:mod:`.documents`, :mod:`.signatures`, :mod:`.registry`, :mod:`.records`,
:mod:`.verification`, :mod:`.audit`, :mod:`.coverage`.
"""
