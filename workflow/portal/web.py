"""workflow: the public portal (no login): the list of published documents with search
and filters, each document's page (the signed PDF, its verification status and QR code),
the Atom feed and the sitemap; ``GET /api/v1/public/documents`` for other sites."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request
from werkzeug.datastructures import MultiDict

from storage.models import Document
from storage.types import utcnow
from workflow import http
from workflow.errors import NotFoundError, WorkflowError
from workflow.http import api_blueprint
from workflow.portal import feeds, queries
from workflow.schemas import portal as schemas
from workflow.schemas.base import parse_form
from workflow.schemas.openapi import operation
from workflow.services import get_services, get_session
from workflow.uploads import send_blob
from workflow.verification import service as verification
from workflow.vocab import DOC_TYPES

bp = Blueprint("portal", __name__, url_prefix="/public")
api_bp = api_blueprint("portal_api", __name__)


def _base() -> str:
    return get_services().settings.public_url or request.host_url


def _filters() -> queries.Filters:
    # An empty select ("Tất cả") is no filter.
    given = MultiDict([(k, v) for k, v in request.args.items(multi=True) if v.strip()])
    query = parse_form(schemas.PublicQuery, given)
    return queries.Filters(
        q=query.q,
        doc_type=query.type or None,
        issuer=query.issuer or None,
        year=query.year,
        page=query.page,
    )


def _card(doc: Document) -> dict[str, Any]:
    base = _base()
    url = feeds.document_url(base, doc.id)
    return {
        "id": doc.id,
        "symbol": doc.symbol or "",
        "subject": doc.subject,
        "doc_type": doc.doc_type,
        "issuer": doc.issuer_unit.name if doc.issuer_unit is not None else None,
        "issued_at": doc.issued_at,
        "url": url,
        "pdf_url": f"{url}.pdf",
    }


@bp.get("/")
def index() -> Any:
    """Published documents: search by words of the subject or the symbol, filter by type,
    issuer and year."""
    db = get_session()
    try:
        filters = _filters()
    except WorkflowError as exc:
        return render_template(
            "portal/index.html",
            error=exc.message,
            results=None,
            filters=queries.Filters(),
            facets=queries.facets(db),
            doc_types=DOC_TYPES,
        ), 400
    return render_template(
        "portal/index.html",
        error=None,
        results=queries.search(db, filters),
        filters=filters,
        facets=queries.facets(db),
        doc_types=DOC_TYPES,
    )


@bp.get("/documents/<int:document_id>")
def document(document_id: int) -> Any:
    """One published document: register entry, verification status, QR code, the PDF;
    a recalled one says so, with the date, and offers no file."""
    db = get_session()
    doc = queries.published_document(db, document_id)
    code = verification.code_of(db, doc)
    status = None
    if code is not None and doc.recalled_at is None:
        services = get_services()
        checker = verification.Checker(
            trust=services.trust,
            revocation=services.trust_services.revocation_source(),
            cert_status=services.certificate_status,
        )
        status = verification.public_record(db, services.blobs, checker, code)["status"]
    return render_template(
        "portal/document.html",
        doc=doc,
        code=code,
        status=status,
        doc_type_label=DOC_TYPES.get(doc.doc_type, doc.doc_type),
        verify_url=verification.verification_url(_base(), code) if code else None,
    )


@bp.get("/documents/<int:document_id>.pdf")
def pdf(document_id: int) -> Any:
    """The signed PDF of a listed document."""
    doc = queries.published_document(get_session(), document_id)
    if doc.recalled_at is not None:
        raise NotFoundError("Văn bản đã bị thu hồi; tệp không còn được công khai.")
    name = f"{(doc.symbol or str(doc.id)).replace('/', '-')}.pdf"
    return send_blob(doc.current_revision.blob_sha256, name, as_attachment=False)


@bp.get("/feed.atom")
def feed() -> Response:
    """The Atom feed of the 50 newest published documents."""
    settings = get_services().settings
    body = feeds.atom(_base(), settings.org_name, queries.latest(get_session()), utcnow())
    return Response(body, mimetype="application/atom+xml")


@bp.get("/sitemap.xml")
def sitemap() -> Response:
    """The sitemap of the portal."""
    body = feeds.sitemap(_base(), queries.every_listed(get_session()))
    return Response(body, mimetype="application/xml")


@api_bp.get("/public/documents")
@http.public
@operation(query=schemas.PublicQuery, responses={200: schemas.PublicDocumentList})
def api_documents() -> Any:
    """Public (no token): published documents, newest first, 20 a page; `q` searches the
    subject and symbol, `type`, `issuer` (unit code) and `year` filter."""
    results = queries.search(get_session(), _filters())
    return schemas.PublicDocumentList(
        documents=[schemas.PublicDocument(**_card(d)) for d in results.documents],
        total=results.total,
        page=results.page,
        pages=results.pages,
    ).dump()
