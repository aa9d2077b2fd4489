"""workflow: the search page (``/search``), the box in the header of every page, and
``GET /api/v1/search``; ``flask --app wsgi search reindex``."""

from __future__ import annotations

from typing import Any

import click
from flask import Blueprint, Flask, render_template, request, url_for
from flask_login import login_required

from workflow.http import actor, api_blueprint, current_actor
from workflow.schemas import search as schemas
from workflow.schemas.openapi import operation
from workflow.search import index, usecases
from workflow.search.query import Hit, search
from workflow.services import get_services, get_session
from workflow.vocab import DOC_TYPES, ENTRY_STATE_LABELS, STATE_LABELS

bp = Blueprint("search", __name__)
api_bp = api_blueprint("search_api", __name__)

KIND_LABELS = {"document": "Văn bản", "incoming": "Văn bản đến", "workfile": "Hồ sơ công việc"}


def _url(hit: Hit) -> str:
    name, args = usecases.endpoint(hit)
    return url_for(name, _external=False, **args)  # type: ignore[arg-type]


def _state_label(hit: Hit) -> str:
    if hit.kind == "incoming":
        return ENTRY_STATE_LABELS.get(hit.state or "", hit.state or "")
    if hit.kind == "workfile":
        return "Đã đóng" if hit.state == "closed" else "Đang mở"
    return STATE_LABELS.get(hit.state or "", hit.state or "")


@bp.get("/search")
@login_required
def page() -> Any:
    """Results of the header's search box, with filters and pages."""
    q, filters, limit, offset = usecases.parse(request.args)
    results = search(get_session(), current_actor(), q, filters, limit, offset)
    rows = [
        {
            "hit": hit,
            "url": _url(hit),
            "kind": KIND_LABELS[hit.kind],
            "type": DOC_TYPES.get(hit.doc_type or "", ""),
            "state": _state_label(hit),
        }
        for hit in results.hits
    ]
    more = offset + limit < results.total
    return render_template(
        "search/results.html",
        q=q,
        filters=filters,
        results=results,
        rows=rows,
        kinds=KIND_LABELS,
        doc_types=DOC_TYPES,
        first=offset + 1,
        last=offset + len(rows),
        prev_offset=max(offset - limit, 0) if offset > 0 else None,
        next_offset=offset + limit if more else None,
    )


@api_bp.get("/search")
@operation(query=schemas.SearchQuery, responses={200: schemas.SearchResults})
def search_api() -> Any:
    """Search everything the caller may open (documents, incoming entries, work files)."""
    q, filters, limit, offset = usecases.parse(request.args)
    results = search(get_session(), actor(), q, filters, limit, offset)
    body = schemas.SearchResults(
        q=q,
        terms=list(results.terms),
        total=results.total,
        more=results.more,
        limit=limit,
        offset=offset,
        results=[
            schemas.SearchHit(
                kind=h.kind,
                id=h.object_id,
                url=_url(h),
                title=h.title,
                title_html=h.title_html,
                symbol=h.symbol,
                doc_type=h.doc_type,
                state=h.state,
                date=h.day.isoformat() if h.day else None,
                snippet=h.snippet,
                snippet_html=h.snippet_html,
            )
            for h in results.hits
        ],
    )
    return body.dump()


def register_cli(app: Flask) -> None:
    """``flask --app wsgi search reindex``."""
    group = click.Group("search", help="Chỉ mục tìm kiếm.")

    @group.command("reindex")
    def reindex() -> None:
        """Rebuild the whole search index (after a restore or an import)."""
        with app.app_context():
            with get_services().session_factory() as session:
                written = index.reindex_all(session)
                session.commit()
        click.echo(f"Đã lập chỉ mục {written} mục.")

    app.cli.add_command(group)
