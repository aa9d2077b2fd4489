"""The registers hold paper documents too: a document signed by hand, a document that
arrived on paper, a document sent on paper; each numbered in the same series as the
electronic ones and counted in the coverage ledger at once (a miss unless exempt)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import func, select

from storage.ledger import LedgerEntry
from storage.models import AuditEvent, Document, Unit
from storage.registry_models import Dispatch, HandSignature, IncomingEntry
from tests.conftest import Api
from tests.test_coverage import assert_counts_exact, issue_via_full_route, refresh
from workflow.services import Services

# Dates of paper documents (today, the future refused) and the year's figures: on a known clock.
pytestmark = pytest.mark.usefixtures("clock")


def scan_pdf() -> bytes:
    """An image-only PDF, as a scanner makes it."""
    image = Image.new("L", (420, 595), 255)
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 40, 380, 120), outline=0)
    draw.line((60, 500, 300, 520), fill=0, width=3)
    out = io.BytesIO()
    image.save(out, "PDF", resolution=72)
    return out.getvalue()


SCAN = scan_pdf()  # once: Pillow dates each PDF it writes


def units(services: Services) -> dict[str, int]:
    with services.session_factory() as s:
        return {u.code: u.id for u in s.scalars(select(Unit))}


def hand_signed(api: Api, user: str = "vanthu", **fields: Any) -> Any:
    body = {
        "doc_type": "NQ",
        "subject": "Nghị quyết của Thường trực về công tác kiểm tra năm 2027",
        "signer": "bithu",
        "signed_on": "2026-01-05",
        "unit": "TT",
        **fields,
    }
    return api.post(user, "/outgoing/paper", json={k: v for k, v in body.items() if v is not None})


def figures(api: Api, period: str, unit: str | None = None) -> dict[str, Any]:
    query = f"/coverage?period={period}" + (f"&unit={unit}" if unit else "")
    response = api.get("kiemtra", query)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def stored(services: Services) -> dict[str, int]:
    """Row and blob counts, to prove a refused request leaves nothing behind."""
    with services.session_factory() as s:
        counts = {
            name: int(s.scalar(select(func.count()).select_from(model)) or 0)
            for name, model in (
                ("documents", Document),
                ("hand", HandSignature),
                ("incoming", IncomingEntry),
                ("dispatches", Dispatch),
                ("audit", AuditEvent),
                ("ledger", LedgerEntry),
            )
        }
    root = Path(services.settings.instance_path) / "blobs"
    counts["blobs"] = sum(1 for p in root.rglob("*") if p.is_file())
    return counts


def test_paper_signed_standing_committee_document_lowers_t2_without_a_refresh(
    api: Api, services: Services
) -> None:
    electronic = issue_via_full_route(api, "NQ", "Nghị quyết về chuyển đổi số năm 2027")
    issued_at = api.get("kiemtra", f"/documents/{electronic}").get_json()["issued_at"]
    year = issued_at[:4]
    before = figures(api, year)["T2"]
    assert (before["numerator"], before["denominator"], before["figure"]) == (1, 1, 1.0)

    created = hand_signed(api, signed_on=issued_at[:10])
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert {"id", "number", "symbol", "issued_at"} <= set(body)
    assert body["issued_at"][:4] == year and body["form"] == "paper"

    # No refresh: the registration itself wrote the ledger entry.
    after = figures(api, year)["T2"]
    assert (after["numerator"], after["denominator"]) == (1, 2)
    assert after["figure"] == 0.5 and after["met"] is False
    standing = figures(api, year, "TT")["T2"]
    assert (standing["numerator"], standing["denominator"]) == (0, 1)
    misses = api.get("kiemtra", f"/coverage/misses?target=T2&period={year}").get_json()
    (miss,) = misses["items"]
    assert miss["id"] == body["id"] and miss["symbol"] == body["symbol"]
    assert miss["state"] == "missing" and "ký tay" in miss["reason"]
    # T1: signed by hand and not yet exchanged: no T1 entry for it.
    t1 = api.get("kiemtra", f"/coverage/misses?target=T1&period={year}").get_json()["items"]
    assert body["id"] not in {i["id"] for i in t1 if i["kind"] == "document"}
    assert_counts_exact(services)


def test_hand_signed_documents_share_the_electronic_series(api: Api, services: Services) -> None:
    first = issue_via_full_route(api, "NQ", "Nghị quyết về chuyển đổi số năm 2027")
    signed_on = api.get("kiemtra", f"/documents/{first}").get_json()["issued_at"][:10]
    paper = hand_signed(api, doc_type="CV", signer="Trần Văn An", signed_on=signed_on, copies=12)
    assert paper.status_code == 201, paper.get_json()
    assert paper.get_json()["symbol"] == "02-CV/ĐUK" and paper.get_json()["number"] == 2
    assert paper.get_json()["signer"] == "Trần Văn An"
    by_username = hand_signed(api, signed_on=signed_on, unit=None)  # the clerk's issuer
    assert by_username.status_code == 201
    assert by_username.get_json()["signer"] == "Lê Văn Đức"
    assert by_username.get_json()["unit"]["code"] == "DUK"
    third = issue_via_full_route(api, "CV", "Công văn về hội nghị")
    register = api.get("vanthu", "/registers/outgoing").get_json()
    rows = {r["document_id"]: r for r in register["entries"]}
    assert [r["number"] for r in register["entries"]] == [1, 2, 3, 4]
    assert rows[third]["symbol"] == "04-CV/ĐUK" and rows[third]["form_label"] == "Điện tử"
    row = rows[paper.get_json()["id"]]
    assert row["form"] == "paper" and row["form_label"] == "Giấy" and row["copies"] == 12
    assert row["signer"] == "Trần Văn An" and row["series"] == "outgoing"
    assert {"key": "form_label", "title": "Hình thức"} in register["columns"]
    exported = api.get("vanthu", "/registers/outgoing?format=csv")
    table = list(csv.reader(io.StringIO(exported.data.decode("utf-8-sig"))))
    form_column = table[0].index("Hình thức")
    assert [r[form_column] for r in table[1:]] == ["Điện tử", "Giấy", "Giấy", "Điện tử"]
    # Audited.
    with services.session_factory() as s:
        event = s.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "document:paper_registered",
                AuditEvent.object_id == str(paper.get_json()["id"]),
            )
        ).one()
        assert event.details["symbol"] == "02-CV/ĐUK" and event.details["signer"] == "Trần Văn An"


def test_hand_signed_with_a_scan(api: Api, services: Services) -> None:
    created = api.post(
        "vanthu",
        "/outgoing/paper",
        data={
            "doc_type": "QĐ",
            "subject": "Quyết định thành lập tổ công tác",
            "signer": "bithu",
            "signed_on": "2026-01-05",
            "unit": "TT",
            "file": (io.BytesIO(SCAN), "quet.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["scan_sha256"] and services.blobs.exists(body["scan_sha256"])
    document = api.get("kiemtra", f"/documents/{body['id']}").get_json()
    assert document["form"] == "paper" and document["state"] == "issued"
    scan = api.get("vanthu", f"/outgoing/paper/{body['id']}/scan")
    assert scan.status_code == 200 and scan.data == SCAN
    assert api.get("chuyenvien", f"/outgoing/paper/{body['id']}/scan").status_code == 404
    # The scan is not the document's signed content: no electronic dispatch of it.
    dispatched = api.post("vanthu", f"/documents/{body['id']}/dispatch", json={"recipients": [1]})
    assert dispatched.status_code == 409 and "bản giấy" in dispatched.get_json()["detail"]


@pytest.mark.parametrize(
    ("user", "fields", "status", "words"),
    [
        ("chuyenvien", {}, 403, "văn thư"),
        ("vanthugd", {}, 403, "cơ quan ban hành"),
        ("vanthu", {"doc_type": "XX"}, 422, "Loại văn bản"),
        ("vanthu", {"signed_on": "2999-01-01"}, 422, "sau ngày hôm nay"),
        ("vanthu", {"signed_on": "05/13/2026"}, 422, "ngày ký"),
        ("vanthu", {"signed_on": None}, 422, "ngày ký"),
        ("vanthu", {"unit": "KHONG-CO"}, 422, "KHONG-CO"),
        ("vanthu", {"subject": "   "}, 422, "trích yếu"),
        ("vanthu", {"signer": ""}, 422, "người ký"),
        ("vanthu", {"copies": 0}, 422, "Số lượng bản"),
    ],
)
def test_hand_signed_refusals_leave_nothing(
    api: Api, services: Services, user: str, fields: dict[str, Any], status: int, words: str
) -> None:
    api.login(user)
    api.login("vanthu")
    before = stored(services)
    refused = hand_signed(api, user, **fields)
    assert refused.status_code == status, refused.get_json()
    assert words in refused.get_json()["detail"]
    assert stored(services) == before


def test_a_refused_scan_leaves_nothing(api: Api, services: Services) -> None:
    api.login("vanthu")
    before = stored(services)
    for data, future in ((b"not a pdf at all", False), (SCAN, True)):
        refused = api.post(
            "vanthu",
            "/outgoing/paper",
            data={
                "doc_type": "CV",
                "subject": "Công văn",
                "signer": "bithu",
                "signed_on": "2999-01-01" if future else "2026-01-05",
                "file": (io.BytesIO(data), "quet.pdf"),
            },
            content_type="multipart/form-data",
        )
        assert refused.status_code == 422, refused.get_json()
        assert stored(services) == before


def test_paper_exchanges_count_once_for_t1(api: Api, services: Services) -> None:
    ids = units(services)
    electronic = issue_via_full_route(api, "NQ", "Nghị quyết về chuyển đổi số năm 2027")
    issued_at = api.get("kiemtra", f"/documents/{electronic}").get_json()["issued_at"]
    year, today = issued_at[:4], issued_at[:10]
    paper = hand_signed(api, signed_on=today).get_json()

    # Sent on paper to a grassroots committee and to an outside organisation.
    sent = api.post(
        "vanthu",
        f"/documents/{paper['id']}/paper-dispatches",
        json={"recipients": [ids["CS-GDDT"]], "external": ["UBND tỉnh"], "sent_on": today},
    )
    assert sent.status_code == 201, sent.get_json()
    rows = sent.get_json()["paper_dispatches"]
    assert [r["recipient"].get("code") for r in rows] == ["CS-GDDT", None]
    again = api.post(
        "vanthu",
        f"/documents/{paper['id']}/paper-dispatches",
        json={"recipients": [ids["CS-GDDT"]]},
    )
    assert again.status_code == 409
    # The electronic one sent electronically, then on paper too (to another unit).
    assert (
        api.post(
            "vanthu", f"/documents/{electronic}/dispatch", json={"recipients": [ids["CS-DL"]]}
        ).status_code
        == 201
    )
    assert (
        api.post(
            "vanthu",
            f"/documents/{electronic}/paper-dispatches",
            json={"recipients": [ids["CS-NH"]]},
        ).status_code
        == 201
    )
    t1 = figures(api, year)["T1"]
    # The electronic document (dispatched): met; three paper exchanges: missed.
    assert (t1["numerator"], t1["denominator"]) == (1, 4)

    # The grassroots clerk registers the paper copy: the same exchange, counted once.
    received = api.post(
        "vanthugd",
        "/incoming/paper",
        json={
            "sender_unit": "DUK",
            "original_symbol": paper["symbol"],
            "original_date": today,
            "subject": paper["subject"],
            "doc_type": "NQ",
        },
    )
    assert received.status_code == 201, received.get_json()
    entry = received.get_json()
    assert entry["form"] == "paper" and entry["state"] == "received" and entry["number"] == 1
    assert entry["document_id"] == paper["id"] and entry["sender"].startswith("Đảng ủy Khối")
    assert (figures(api, year)["T1"]["denominator"]) == 4

    # A paper document from an outside organisation to the committee: a miss of DUK.
    outside = api.post(
        "vanthu",
        "/incoming/paper",
        json={
            "sender": "Tỉnh ủy",
            "original_symbol": "120-CV/TU",
            "original_date": today,
            "subject": "Về việc triển khai chuyển đổi số",
            "doc_type": "CV",
        },
    )
    assert outside.status_code == 201, outside.get_json()
    # ...and from outside to a grassroots committee: not an exchange of the bloc committee.
    local = api.post(
        "vanthugd",
        "/incoming/paper",
        json={"sender": "Sở Tài chính", "subject": "Giấy mời họp", "doc_type": "CV"},
    )
    assert local.status_code == 201 and local.get_json()["number"] == 2
    # A classified paper document: exempt (and no scan, no subject for Tuyệt mật).
    secret = api.post(
        "vanthu",
        "/incoming/paper",
        json={"sender": "Tỉnh ủy", "classification": "tuyet_mat", "subject": ""},
    )
    assert secret.status_code == 201, secret.get_json()
    t1 = figures(api, year)["T1"]
    assert (t1["numerator"], t1["denominator"], t1["exempt"]) == (1, 5, 1)
    duk = figures(api, year, "DUK")["T1"]  # the committee and its organs
    assert duk["denominator"] == 5
    misses = api.get("kiemtra", f"/coverage/misses?target=T1&period={year}&limit=20").get_json()
    kinds = {(i["kind"], i["reason"]) for i in misses["items"]}
    nh = "Đảng ủy Ngân hàng Nông nghiệp và Phát triển nông thôn tỉnh"
    assert kinds == {
        ("incoming", "Nhận bằng bản giấy từ Tỉnh ủy."),
        ("dispatch", f"Gửi bằng bản giấy đến {nh}."),
        ("dispatch", "Gửi bằng bản giấy đến Đảng ủy Sở Giáo dục và Đào tạo."),
        ("dispatch", "Gửi bằng bản giấy đến UBND tỉnh."),
    }
    assert_counts_exact(services)

    # The registers show the form of each entry; the outgoing one lists paper recipients.
    register = api.get("vanthugd", "/registers/incoming").get_json()["entries"]
    assert [(r["number"], r["form_label"]) for r in register] == [(1, "Giấy"), (2, "Giấy")]
    outgoing = api.get("vanthu", "/registers/outgoing").get_json()["entries"]
    paper_row = next(r for r in outgoing if r["document_id"] == paper["id"])
    assert "UBND tỉnh (bản giấy)" in paper_row["recipients_text"]
    mine = api.get("vanthu", "/registers/incoming").get_json()["entries"]
    assert [r["subject"] for r in mine] == ["Về việc triển khai chuyển đổi số", ""]
    # The other way round: the recipient registers the paper copy first, the sender
    # records the dispatch afterwards: still one exchange.
    second = hand_signed(api, signed_on=today, subject="Thông báo kết luận").get_json()
    first = api.post(
        "vanthugd",
        "/incoming/paper",
        json={"sender_unit": "TT", "original_symbol": second["symbol"], "subject": "Thông báo"},
    )
    assert first.status_code == 201 and first.get_json()["document_id"] == second["id"]
    assert figures(api, year)["T1"]["denominator"] == 6
    later = api.post(
        "vanthu",
        f"/documents/{second['id']}/paper-dispatches",
        json={"recipients": [ids["CS-GDDT"]]},
    )
    assert later.status_code == 201
    assert figures(api, year)["T1"]["denominator"] == 6
    # A full refresh recomputes the same entries (nothing double, nothing lost).
    result = refresh(services)
    assert result.changes == []
    assert figures(api, year)["T1"]["denominator"] == 6
    assert_counts_exact(services)


def test_paper_incoming_refusals(api: Api, services: Services) -> None:
    for user in ("vanthu", "vanthugd", "chuyenvien"):
        api.login(user)
    before = stored(services)
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("chuyenvien", {"sender": "Tỉnh ủy", "subject": "x"}, 403, "văn thư"),
        ("vanthu", {"subject": "x"}, 422, "cơ quan gửi"),
        ("vanthu", {"sender": "Tỉnh ủy"}, 422, "trích yếu"),
        ("vanthu", {"sender_unit": "KHONG-CO", "subject": "x"}, 422, "KHONG-CO"),
        ("vanthu", {"sender_unit": "DUK", "subject": "x"}, 422, "chính đơn vị nhận"),
        (
            "vanthu",
            {"sender": "Tỉnh ủy", "subject": "x", "original_date": "2999-01-01"},
            422,
            "sau ngày",
        ),
        ("vanthu", {"sender": "Tỉnh ủy", "subject": "x", "doc_type": "ZZ"}, 422, "Loại văn bản"),
        (
            "vanthu",
            {"sender": "Tỉnh ủy", "subject": "x", "classification": "bi_mat"},
            422,
            "Độ mật",
        ),
        (
            "vanthu",
            {"sender": "Tỉnh ủy", "subject": "x", "classification": "tuyet_mat"},
            422,
            "Tuyệt mật",
        ),
        ("vanthugd", {"sender": "Tỉnh ủy", "subject": "x", "unit": "DUK"}, 403, "đơn vị"),
    ]
    for user, body, status, words in cases:
        refused = api.post(user, "/incoming/paper", json=body)
        assert refused.status_code == status, (body, refused.get_json())
        assert words in refused.get_json()["detail"], (body, refused.get_json())
    secret_scan = api.post(
        "vanthu",
        "/incoming/paper",
        data={
            "sender": "Tỉnh ủy",
            "classification": "mat",
            "subject": "x",
            "file": (io.BytesIO(SCAN), "quet.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert secret_scan.status_code == 422 and "bản quét" in secret_scan.get_json()["detail"]
    assert stored(services) == before


def test_paper_incoming_with_a_scan_goes_to_the_leaders(api: Api, services: Services) -> None:
    created = api.post(
        "vanthu",
        "/incoming/paper",
        data={
            "sender": "Tỉnh ủy",
            "original_symbol": "45-TB/TU",
            "subject": "Thông báo kết luận của Thường trực Tỉnh ủy",
            "doc_type": "TB",
            "file": (io.BytesIO(SCAN), "quet.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert created.status_code == 201, created.get_json()
    entry = created.get_json()
    assert entry["sha256"] and entry["handling"] is not None
    assert api.get("vanthu", f"/incoming/{entry['id']}/file").data == SCAN
    # Not received twice, never "returned" for lacking a digital signature.
    assert api.post("vanthu", f"/incoming/{entry['id']}/receive").status_code == 409


def test_paper_dispatch_refusals(api: Api, services: Services, submitted_document: Any) -> None:
    ids = units(services)
    paper = hand_signed(api).get_json()
    draft = submitted_document()
    cases: list[tuple[str, int, dict[str, Any], int]] = [
        ("chuyenvien", paper["id"], {"recipients": [ids["BTC"]]}, 404),
        ("vanthugd", paper["id"], {"recipients": [ids["BTC"]]}, 404),
        ("vanthu", draft, {"recipients": [ids["BTC"]]}, 404),
        ("vanthu", paper["id"], {}, 422),
        ("vanthu", paper["id"], {"recipients": [ids["DUK"]]}, 422),
        ("vanthu", paper["id"], {"recipients": [9999]}, 422),
        ("vanthu", paper["id"], {"recipients": ["BTC"]}, 422),
        ("vanthu", paper["id"], {"external": [""]}, 422),
        ("vanthu", paper["id"], {"recipients": [ids["BTC"]], "sent_on": "2999-01-01"}, 422),
        ("vanthu", paper["id"], {"recipients": [ids["BTC"]], "sent_on": "2000-01-01"}, 422),
    ]
    for user, doc_id, body, status in cases:
        refused = api.post(user, f"/documents/{doc_id}/paper-dispatches", json=body)
        assert refused.status_code == status, (user, body, refused.get_json())
    assert (
        api.get("vanthu", f"/documents/{paper['id']}/paper-dispatches").get_json()[
            "paper_dispatches"
        ]
        == []
    )
