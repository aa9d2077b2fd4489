"""Search: a corpus of a few hundred documents, incoming entries and work files with
Vietnamese subjects and texts across units (rows made directly, not signed), precision
of the top 10 with and without diacritics, and, for every demo user, nothing found that
the user may not open (compared with the access rules themselves), on both databases."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage.models import Document, Revision, Task, Unit, User
from storage.registry_models import IncomingEntry, WorkFile
from storage.search_models import SearchEntry, TextExtract
from tests.conftest import Api, closed
from tests.test_web import login
from workflow.accounts import access
from workflow.errors import NotFoundError
from workflow.files.extract import fold
from workflow.records.workfiles import get_visible_workfile
from workflow.registry import incoming_queries
from workflow.search.query import search, terms_of
from workflow.services import Services

TOPICS = [
    "nghị quyết về chuyển đổi số",
    "công tác kiểm tra, giám sát",
    "học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh",
    "kết nạp đảng viên mới",
    "đại hội chi bộ nhiệm kỳ",
    "phòng, chống tham nhũng, tiêu cực",
    "công tác dân vận",
    "bảo vệ nền tảng tư tưởng của Đảng",
    "thu, nộp đảng phí",
    "tổng kết công tác xây dựng Đảng năm",
]
OPENINGS = ["Về việc", "Báo cáo kết quả", "Kế hoạch triển khai", "Hướng dẫn thực hiện"]
FILLER = (
    "Đảng ủy Khối yêu cầu các cấp ủy, tổ chức đảng trực thuộc quán triệt, tổ chức thực "
    "hiện nghiêm túc, báo cáo kết quả về Văn phòng Đảng ủy Khối đúng thời hạn."
)
# Queries, each with and without diacritics, and the topic they are about.
QUERIES = [
    ("nghị quyết chuyển đổi số", "nghi quyet chuyen doi so", 0),
    ("kiểm tra giám sát", "kiem tra giam sat", 1),
    ("kết nạp đảng viên", "ket nap dang vien", 3),
    ("phòng chống tham nhũng", "phong chong tham nhung", 5),
    ("đảng phí", "dang phi", 8),
]
N_DOCUMENTS = 160


def _corpus(services: Services, n: int = N_DOCUMENTS) -> dict[str, Any]:
    """Make the corpus: :returns: what each object is about (index of its topic)."""
    rng = random.Random(19)  # noqa: S311 - test data
    topic_of: dict[tuple[str, int], int] = {}
    with services.session_factory() as session:
        users = {u.username: u for u in session.scalars(select(User))}
        units = list(session.scalars(select(Unit).order_by(Unit.id)))
        authors = [users[n] for n in ("chuyenvien", "truongban", "bithugd", "chanhvp")]
        parties = [users[n] for n in ("truongban", "bithu", "vanthu", "chanhvp", "bithugd")]
        start = datetime(2025, 1, 6, 2, 0, tzinfo=UTC)
        for i in range(n):
            topic = i % len(TOPICS)
            # Mostly in the subject; a quarter only in the body (found by full text).
            in_body = i % 4 == 0
            subject = (
                f"{rng.choice(OPENINGS)} {TOPICS[topic]} {2025 + i % 2}"
                if not in_body
                else f"{rng.choice(OPENINGS)} công việc số {i} của đơn vị"
            )
            body = f"Trang 1. {FILLER} Nội dung chính: {TOPICS[topic]}. {FILLER}"
            when = start + timedelta(days=i)
            author = rng.choice(authors)
            doc = Document(
                unit_id=rng.choice(units).id,
                created_by_id=author.id,
                subject=subject,
                doc_type=rng.choice(["NQ", "CV", "BC", "KH", "HD"]),
                state=rng.choice(["draft", "in_review", "signed", "issued"]),
                created_at=when,
                updated_at=when,
                version=1,
            )
            session.add(doc)
            session.flush()
            sha = hashlib.sha256(f"corpus-{i}".encode()).hexdigest()
            session.add(TextExtract(blob_sha256=sha, text=body, source="pdf", pages=1))
            doc.revisions.append(
                Revision(
                    number=1,
                    blob_sha256=sha,
                    size=1000,
                    filename="van-ban.pdf",
                    kind="upload",
                    created_by_id=author.id,
                )
            )
            if rng.random() < 0.6:
                assignee = rng.choice(parties)
                session.add(
                    Task(
                        document_id=doc.id,
                        stage_position=1,
                        stage_name="Duyệt",
                        action="approve",
                        assignee_id=assignee.id,
                    )
                )
            topic_of[("document", doc.id)] = topic
        for i in range(40):
            topic = rng.randrange(len(TOPICS))
            entry = IncomingEntry(
                unit_id=rng.choice(units).id,
                source="external",
                form="paper",
                sender="Tỉnh ủy",
                subject=f"Công văn {TOPICS[topic]} (đến {i})",
                doc_type="CV",
                state="received",
                original_symbol=f"{100 + i}-CV/TU",
            )
            session.add(entry)
            session.flush()
            topic_of[("incoming", entry.id)] = topic
        for i in range(30):
            topic = rng.randrange(len(TOPICS))
            wf = WorkFile(
                unit_id=rng.choice(units).id,
                code=f"HS-{i:03d}",
                title=f"Hồ sơ {TOPICS[topic]}",
                owner_id=rng.choice(authors).id,
            )
            session.add(wf)
            session.flush()
            topic_of[("workfile", wf.id)] = topic
        session.commit()
    return topic_of


def _all_hits(services: Services, username: str, q: str) -> tuple[int, list[tuple[str, int]]]:
    with services.session_factory() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        first = search(session, user, q, limit=100)
        hits = [(h.kind, h.object_id) for h in first.hits]
        offset = 100
        while offset < first.total:
            more = search(session, user, q, limit=100, offset=offset)
            hits += [(h.kind, h.object_id) for h in more.hits]
            offset += 100
        return first.total, hits


def _count(services: Services, username: str, q: str) -> int:
    with services.session_factory() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        return search(session, user, q, limit=1).total


def _may_open(session: Session, username: str, kind: str, object_id: int) -> bool:
    user = session.scalars(select(User).where(User.username == username)).one()
    if True:
        try:
            if kind == "document":
                access.get_visible_document(session, user, object_id)
            elif kind == "incoming":
                incoming_queries.get_entry(session, user, object_id)
            else:
                get_visible_workfile(session, user, object_id)
        except NotFoundError:
            return False
        return True


def _matches(services: Services, q: str) -> set[tuple[str, int]]:
    """Brute force over the live rows: every object whose subject/title or text holds
    all the words of ``q`` (folded)."""
    terms = terms_of(q)

    def hit(*texts: str) -> bool:
        words = set(fold(" ".join(texts)).replace(",", " ").split())
        return all(t in words for t in terms)

    found: set[tuple[str, int]] = set()
    with services.session_factory() as session:
        for doc in session.scalars(select(Document)):
            text = (
                session.get(TextExtract, doc.revisions[-1].blob_sha256) if doc.revisions else None
            )
            if hit(doc.subject, text.text if text else ""):
                found.add(("document", doc.id))
        for entry in session.scalars(select(IncomingEntry)):
            if hit(entry.subject):
                found.add(("incoming", entry.id))
        for wf in session.scalars(select(WorkFile)):
            if hit(wf.title):
                found.add(("workfile", wf.id))
    return found


@pytest.mark.both_databases
def test_precision_and_access_on_a_vietnamese_corpus(
    services: Services, db_backend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    topic_of = _corpus(services)
    report = []
    for accented, plain, topic in QUERIES:
        found = {q: _all_hits(services, "kiemtra", q) for q in (accented, plain)}
        for q, (total, hits) in found.items():  # the auditor sees everything
            top = hits[:10]
            precision = sum(1 for h in top if topic_of.get(h) == topic) / max(len(top), 1)
            report.append(f"{db_backend} P@10 {q!r}: {precision:.2f} ({total} results)")
            assert len(top) == 10
            assert precision >= 0.9, report[-1]
        # Without diacritics the same results, in the same order.
        assert found[accented] == found[plain]
    with capsys.disabled():
        print("\n" + "\n".join(report))

    users = [
        "chuyenvien", "truongban", "bithu", "vanthu", "kiemtra",
        "admin", "chanhvp", "vanthugd", "bithugd",
    ]  # fmt: skip
    for accented, _plain, _topic in QUERIES[:2]:
        everything = set(_all_hits(services, "kiemtra", accented)[1])
        # The auditor's results hold every object whose subject or text has the words
        # (and those whose metadata has them: units, names, labels).
        assert _matches(services, accented) <= everything
        for username in users:
            total, hits = _all_hits(services, username, accented)
            with services.session_factory() as session:
                allowed = {h for h in everything if _may_open(session, username, *h)}
            assert total == len(hits), (username, accented)
            assert set(hits) == allowed, (username, accented)
    # Every role saw something and nobody but the auditor saw everything.
    counts = {u: _count(services, u, "dang") for u in users}
    assert counts["kiemtra"] > max(v for k, v in counts.items() if k != "kiemtra")


def test_api_search_highlights_and_filters(services: Services, api: Api) -> None:
    _corpus(services, n=80)
    answer = api.get("kiemtra", "/search?q=tham%20nhung&kind=document&limit=5")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["total"] > 5 and len(body["results"]) == 5
    first = body["results"][0]
    assert first["kind"] == "document" and first["url"] == f"/documents/{first['id']}"
    assert "<mark>tham</mark> <mark>nhũng</mark>" in first["title_html"] + first["snippet_html"]
    by_type = api.get("kiemtra", "/search?q=dang&doc_type=NQ&date_from=2025-03-01").get_json()
    assert by_type["results"] and all(r["doc_type"] == "NQ" for r in by_type["results"])
    assert all(r["date"] >= "2025-03-01" for r in by_type["results"])
    # The index rebuilt from the live tables (after a restore) gives the same answers.
    with services.session_factory() as session:
        session.execute(delete(SearchEntry))
        session.commit()
    assert api.get("kiemtra", "/search?q=tham%20nhung").get_json()["total"] == 0
    rebuilt = api.app.test_cli_runner().invoke(args=["search", "reindex"])
    assert rebuilt.exit_code == 0 and "Đã lập chỉ mục" in rebuilt.output, rebuilt.output
    again = api.get("kiemtra", "/search?q=tham%20nhung&kind=document&limit=5").get_json()
    assert again["total"] == body["total"] and again["results"] == body["results"]
    bad = api.get("kiemtra", "/search?q=dang&date_from=15/03/2025")
    assert bad.status_code == 422 and "NĂM-THÁNG-NGÀY" in bad.get_json()["detail"]
    # The page: the header's box on every page, the results page with marks.
    client = api.app.test_client()
    login(client, "kiemtra")
    home = closed(client.get("/")).get_data(as_text=True)
    assert 'id="header-search"' in home and 'action="/search"' in home
    page = closed(client.get("/search?q=ket+nap+dang+vien")).get_data(as_text=True)
    assert "<mark>nạp</mark> <mark>đảng</mark> <mark>viên</mark>" in page
