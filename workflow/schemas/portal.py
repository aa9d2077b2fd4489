"""workflow: API schemas of the public portal (``/public/documents``, no login)."""

from __future__ import annotations

from pydantic import Field

from workflow.schemas.base import IntLike, Moment, Request, Response


class PublicQuery(Request):
    """``GET /public/documents``: search and filters."""

    q: str = Field(default="", max_length=200, title="từ khoá")
    type: str | None = Field(default=None, max_length=8, title="loại văn bản")
    issuer: str | None = Field(default=None, max_length=32, title="đơn vị ban hành")
    year: IntLike | None = Field(default=None, ge=1945, le=2200, title="năm")
    page: IntLike = Field(default=1, ge=1, le=100000, title="trang")


class PublicDocument(Response):
    """A published document."""

    id: int
    symbol: str
    subject: str
    doc_type: str
    issuer: str | None
    issued_at: Moment
    url: str = Field(description="its public page")
    pdf_url: str = Field(description="the signed PDF")


class PublicDocumentList(Response):
    """``GET /public/documents``: one page, newest first."""

    documents: list[PublicDocument]
    total: int
    page: int
    pages: int
