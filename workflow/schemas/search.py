"""workflow: API schemas of search (``GET /search``)."""

from __future__ import annotations

from pydantic import Field

from workflow.schemas.base import Request, Response


class SearchQuery(Request):
    """``GET /search`` query."""

    q: str | None = Field(
        default=None,
        description="words to find, with or without diacritics ('nghi quyet' = 'nghị quyết')",
    )
    kind: str | None = Field(default=None, description="document, incoming or workfile")
    doc_type: str | None = Field(default=None, description="type code: NQ, CV, BC…")
    state: str | None = Field(default=None, description="state code of the object")
    date_from: str | None = Field(default=None, description="YYYY-MM-DD (Vietnam date)")
    date_to: str | None = Field(default=None, description="YYYY-MM-DD (Vietnam date)")
    limit: int | None = Field(default=None, description="1..100, default 20")
    offset: int | None = Field(default=None, description="results to skip, default 0")


class SearchHit(Response):
    """One result the caller may open."""

    kind: str = Field(description="document, incoming or workfile")
    id: int
    url: str = Field(description="the page of the object")
    title: str
    title_html: str = Field(description="the title, HTML-escaped, matched words in <mark>")
    symbol: str | None
    doc_type: str | None
    state: str | None
    date: str | None = Field(description="YYYY-MM-DD")
    snippet: str
    snippet_html: str = Field(description="the snippet, HTML-escaped, matched words in <mark>")


class SearchResults(Response):
    """``GET /search``: the page of results and how many the caller may open in all."""

    q: str
    terms: list[str] = Field(description="the folded words searched for")
    total: int = Field(description="results the caller may open, counted up to 1000")
    more: bool = Field(description="more than 1000 results (total is then 1000)")
    limit: int
    offset: int
    results: list[SearchHit]
