"""The public portal: issued documents published at issuance (`{"public": true}`) or
later, listed without login by the API, the pages, the Atom feed and the sitemap; never
a classified or unpublished one by any URL; a recall takes a document down."""

from __future__ import annotations

from xml.etree import ElementTree  # noqa: S405 - our own sitemap

import feedparser
import pytest
from flask import Flask
from sqlalchemy import select

from storage.models import AuditEvent, Document
from tests.conftest import Api, closed
from tests.factories import awaiting_issue, user
from workflow.registry import issuance, publishing
from workflow.services import EXTENSION_KEY, Services


def services_of(app: Flask) -> Services:
    svc: Services = app.extensions[EXTENSION_KEY]
    return svc


def issue(api: Api, app: Flask, public: bool | None) -> dict[str, object]:
    (task_id,) = awaiting_issue(services_of(app), 1)
    body = {} if public is None else {"public": public}
    issued = api.post("vanthu", f"/tasks/{task_id}/issue", json=body)
    assert issued.status_code == 200, issued.get_json()
    answer: dict[str, object] = issued.get_json()
    return answer


def test_issue_public_lists_the_document_without_login(api: Api, app: Flask) -> None:
    published = issue(api, app, True)
    private = issue(api, app, None)  # never public by default
    anonymous = app.test_client()
    listed = closed(anonymous.get("/api/v1/public/documents"))
    assert listed.status_code == 200
    body = listed.get_json()
    assert body["total"] == 1
    (item,) = body["documents"]
    doc = published["document"]
    assert isinstance(doc, dict)
    assert item["id"] == doc["id"] and item["symbol"] == published["symbol"]
    assert item["subject"] == doc["subject"] and item["issued_at"] == published["issued_at"]
    assert item["url"].endswith(f"/public/documents/{doc['id']}")
    pdf = closed(anonymous.get(f"/public/documents/{doc['id']}.pdf"))
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    own = api.get("vanthu", f"/documents/{doc['id']}/file")
    assert pdf.data == own.data  # the signed, sealed file itself
    page = closed(anonymous.get(f"/public/documents/{doc['id']}")).get_data(as_text=True)
    assert str(published["symbol"]) in page and "Chữ ký số hợp lệ" in page
    other = private["document"]
    assert isinstance(other, dict)
    for path in (f"/public/documents/{other['id']}", f"/public/documents/{other['id']}.pdf"):
        assert closed(anonymous.get(path)).status_code == 404, path
    assert str(private["symbol"]) not in closed(anonymous.get("/public/")).get_data(as_text=True)


def test_search_and_filters(api: Api, app: Flask) -> None:
    issue(api, app, True)
    anonymous = app.test_client()
    assert closed(anonymous.get("/api/v1/public/documents?q=thử")).get_json()["total"] == 1
    assert closed(anonymous.get("/api/v1/public/documents?q=khong-co")).get_json()["total"] == 0
    assert closed(anonymous.get("/api/v1/public/documents?type=CV")).get_json()["total"] == 1
    assert closed(anonymous.get("/api/v1/public/documents?type=QĐ")).get_json()["total"] == 0
    assert closed(anonymous.get("/api/v1/public/documents?year=1999")).get_json()["total"] == 0
    bad = closed(anonymous.get("/api/v1/public/documents?year=abc"))
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    html = closed(anonymous.get("/public/?q=thử&type=CV")).get_data(as_text=True)
    assert "1 văn bản" in html


def test_the_feed_and_the_sitemap(api: Api, app: Flask) -> None:
    first = issue(api, app, True)
    second = issue(api, app, True)
    anonymous = app.test_client()
    response = closed(anonymous.get("/public/feed.atom"))
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    feed = feedparser.parse(response.data)
    assert feed.bozo == 0 and feed.version == "atom10", feed.get("bozo_exception")
    titles = [e.title for e in feed.entries]
    assert titles[0].startswith(str(second["symbol"])) and titles[1].startswith(
        str(first["symbol"])
    )
    assert all(e.link.startswith("http") for e in feed.entries)
    sitemap = closed(anonymous.get("/public/sitemap.xml"))
    locs = [
        e.text
        for e in ElementTree.fromstring(sitemap.data).iter(  # noqa: S314 - our own output
            "{http://www.sitemaps.org/schemas/sitemap/0.9}loc"
        )
    ]
    assert len(locs) == 3 and locs[0].endswith("/public/")


def test_publishing_rules_and_audit(api: Api, app: Flask) -> None:
    issued = issue(api, app, None)
    doc = issued["document"]
    assert isinstance(doc, dict)
    refused = api.post("chuyenvien", f"/documents/{doc['id']}/publish", json={"public": True})
    assert refused.status_code in (403, 404)
    done = api.post("vanthu", f"/documents/{doc['id']}/publish", json={"public": True})
    assert done.status_code == 200, done.get_json()
    assert closed(app.test_client().get(f"/public/documents/{doc['id']}")).status_code == 200
    down = api.post("vanthu", f"/documents/{doc['id']}/publish", json={"public": False})
    assert down.status_code == 200
    assert closed(app.test_client().get(f"/public/documents/{doc['id']}")).status_code == 404
    with services_of(app).session_factory() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(
                AuditEvent.object_type == "document", AuditEvent.object_id == str(doc["id"])
            )
        ).all()
        assert actions.count("document:published") == 1
        assert actions.count("document:unpublished") == 1
        # A classified entry can never be published.
        classified = issuance.register_classified(
            session,
            user(session, "vanthu"),
            classification="mat",
            doc_type="CV",
            subject="Công văn mật về nhân sự",
        )
        session.commit()
        with pytest.raises(Exception, match="mật"):
            publishing.set_public(session, user(session, "vanthu"), classified, True)
        session.rollback()
        classified_id = classified.id
    assert (
        api.post("vanthu", f"/documents/{classified_id}/publish", json={"public": True}).status_code
        == 409
    )
    assert closed(app.test_client().get(f"/public/documents/{classified_id}")).status_code == 404


def test_a_recall_takes_the_document_down(api: Api, app: Flask) -> None:
    issued = issue(api, app, True)
    doc = issued["document"]
    assert isinstance(doc, dict)
    recalled = api.post("vanthu", f"/documents/{doc['id']}/recall", json={"reason": "Sai thể thức"})
    assert recalled.status_code == 200, recalled.get_json()
    anonymous = app.test_client()
    assert closed(anonymous.get("/api/v1/public/documents")).get_json()["total"] == 0
    page = closed(anonymous.get(f"/public/documents/{doc['id']}"))
    assert page.status_code == 200 and "đã bị thu hồi ngày" in page.get_data(as_text=True)
    assert closed(anonymous.get(f"/public/documents/{doc['id']}.pdf")).status_code == 404
    with services_of(app).session_factory() as session:
        stored = session.get(Document, doc["id"])
        assert stored is not None and stored.recalled_at is not None
        assert session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "document:unpublished")
        ).one() == {"symbol": issued["symbol"], "reason": "recalled"}
