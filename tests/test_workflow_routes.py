"""Issue 3: route templates, return/reject/withdraw/delegate/reassign, issuance, classified."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from tests.conftest import DEMO_PASSWORD, Api
from tests.pdfs import simple_pdf
from tests.test_journey_api import INDEPENDENT_VERIFY

FULL = "thuong-truc-ban-hanh"


def upload_on(api: Api, route: str = FULL, **kw: Any) -> int:
    response = api.post(
        "chuyenvien",
        "/documents",
        data={
            "file": (BytesIO(simple_pdf()), "nghi-quyet.pdf"),
            "subject": kw.get("subject", "Nghị quyết về công tác chuyển đổi số năm 2027"),
            "doc_type": kw.get("doc_type", "NQ"),
            "route": route,
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    doc_id: int = response.get_json()["id"]
    assert api.post("chuyenvien", f"/documents/{doc_id}/submit").status_code == 200
    return doc_id


def act(api: Api, user: str, doc_id: int, verb: str, body: dict[str, Any] | None = None) -> Any:
    task = api.task_for(user, doc_id)
    response = api.post(user, f"/tasks/{task['id']}/{verb}", json=body or {})
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


def state(api: Api, doc_id: int) -> str:
    s: str = api.get("kiemtra", f"/documents/{doc_id}").get_json()["state"]
    return s


def test_routes_are_listed_with_their_stages(api: Api) -> None:
    routes = {r["code"]: r for r in api.get("chuyenvien", "/routes").get_json()["routes"]}
    full = routes[FULL]
    assert [s["action"] for s in full["stages"]] == ["approve", "review", "sign", "issue"]
    assert routes["thuong-truc-ky"]["is_default"]
    assert routes["bao-cao-dinh-ky"]["kind"] == "report"


# The issued file's levels (the seal at B-LT, LTA updates) are checked.
@pytest.mark.signature_level()
def test_full_standing_committee_route_with_return_and_delegation(api: Api, tmp_path: Path) -> None:
    doc_id = upload_on(api)
    act(api, "truongban", doc_id, "approve", {"comment": "Đồng ý trình"})
    assert state(api, doc_id) == "in_review"
    # Văn phòng returns it to the drafter, to resume at the format check (stage 2).
    returned = act(
        api, "vanthu", doc_id, "return", {"comment": "Sửa thể thức phần nơi nhận", "to_stage": 2}
    )
    assert returned["document"]["state"] == "returned"
    # Earlier revisions stay; the drafter uploads a new one and resubmits.
    rev = api.post(
        "chuyenvien",
        f"/documents/{doc_id}/revisions",
        data={"file": (BytesIO(simple_pdf("Ban da sua")), "nghi-quyet-v2.pdf")},
        content_type="multipart/form-data",
    )
    assert rev.status_code == 201 and rev.get_json()["number"] == 2
    assert api.post("chuyenvien", f"/documents/{doc_id}/submit").get_json()["state"] == "in_review"
    assert api.task_for("vanthu", doc_id)["step"] == 2  # resumed at the chosen stage
    act(api, "vanthu", doc_id, "approve")
    assert state(api, doc_id) == "awaiting_signature"

    # The signer delegates; the delegate acts on his behalf (here: the board head, who
    # has no signing key, is refused; so delegate to someone with a key is needed).
    task = api.task_for("bithu", doc_id)
    until = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    delegated = api.post(
        "bithu",
        f"/tasks/{task['id']}/delegate",
        json={"to": "truongban", "until": until, "reason": "Đi công tác, ủy quyền xem xét"},
    )
    assert delegated.status_code == 201
    dtask = delegated.get_json()["task"]
    assert dtask["on_behalf_of"] == "bithu" and dtask["assignee"] == "truongban"
    # Never sub-delegated.
    again = api.post(
        "truongban",
        f"/tasks/{dtask['id']}/delegate",
        json={"to": "chuyenvien", "until": until, "reason": "x"},
    )
    assert again.status_code == 403
    # The signer signs himself in the end (his task is still open).
    signed = api.post("bithu", f"/tasks/{task['id']}/sign", json={"passphrase": DEMO_PASSWORD})
    assert signed.status_code == 200, signed.get_json()
    assert state(api, doc_id) == "awaiting_issue"
    # The delegate's task was closed with the principal's.
    assert all(
        t["document_id"] != doc_id for t in api.get("truongban", "/tasks").get_json()["tasks"]
    )

    issued = act(api, "vanthu", doc_id, "issue")
    assert issued["number"] == 1 and issued["symbol"] == "01-NQ/ĐUK"
    assert issued["issued_at"].endswith("+07:00")
    assert issued["document"]["state"] == "issued"

    validation = api.get("kiemtra", f"/documents/{doc_id}/validation").get_json()
    assert validation["verdict"] == "valid"
    leader, seal = validation["signatures"]
    assert leader["signer_name"] == "Lê Văn Đức" and leader["intact"] and leader["bottom_line"]
    assert leader["coverage"] == "entire_revision"
    assert leader["modification_level"] in ("form_filling", "lta_updates")
    assert seal["bottom_line"] and seal["pades_level"] == "B-LT"
    assert seal["coverage"] == "entire_revision" and seal["modification_level"] == "lta_updates"

    data = api.get("chuyenvien", f"/documents/{doc_id}/file").data
    reader = PdfFileReader(BytesIO(data))
    assert len(reader.embedded_signatures) == 2
    out = tmp_path / "issued.pdf"
    out.write_bytes(data)
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True).stdout
    assert "01-NQ/ĐUK" in text and "Ngày ban hành" in text
    if INDEPENDENT_VERIFY.exists():
        root = tmp_path / "root.pem"
        root.write_bytes(api.client.get("/pki/root.pem").data)
        verify_python = Path.home() / ".cache/independent_verify/venv/bin/python"
        cmd = [sys.executable, str(INDEPENDENT_VERIFY)]
        if verify_python.exists():
            cmd += ["--python", str(verify_python)]
        result = subprocess.run(
            [*cmd, str(out), str(root)], capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "pdfsig: valid" in result.stdout, result.stdout

    history = [
        h["action"] for h in api.get("kiemtra", f"/documents/{doc_id}").get_json()["history"]
    ]
    for action in (
        "document:step:returned",
        "document:revised",
        "document:delegated",
        "document:issued",
    ):
        assert action in history


@pytest.mark.usefixtures("clock")
def test_delegate_acts_on_behalf_of(api: Api) -> None:
    doc_id = upload_on(api)
    task = api.task_for("truongban", doc_id)
    until = (datetime.now(UTC) + timedelta(hours=4)).isoformat()
    dtask = api.post(
        "truongban",
        f"/tasks/{task['id']}/delegate",
        json={"to": "kiemtra", "until": until, "reason": "Ủy quyền duyệt trong thời gian họp"},
    ).get_json()["task"]
    done = api.post(
        "kiemtra", f"/tasks/{dtask['id']}/approve", json={"comment": "Thay mặt trưởng ban"}
    )
    assert done.status_code == 200
    body = done.get_json()
    assert body["task"]["on_behalf_of"] == "truongban" and body["task"]["acted_by"] == "kiemtra"
    # The principal's own task closed too: exactly one transition.
    assert api.post("truongban", f"/tasks/{task['id']}/approve", json={}).status_code == 409
    assert state(api, doc_id) == "in_review" and api.task_for("vanthu", doc_id)["step"] == 2


def test_reject_ends_the_route(api: Api) -> None:
    doc_id = upload_on(api)
    assert (
        api.post(
            "truongban", f"/tasks/{api.task_for('truongban', doc_id)['id']}/reject", json={}
        ).status_code
        == 422
    )
    act(api, "truongban", doc_id, "reject", {"comment": "Không phù hợp chủ trương"})
    assert state(api, doc_id) == "rejected"
    assert api.post("chuyenvien", f"/documents/{doc_id}/submit").status_code == 409


def test_withdraw_only_before_anyone_acted(api: Api) -> None:
    doc_id = upload_on(api)
    withdrawn = api.post("chuyenvien", f"/documents/{doc_id}/withdraw")
    assert withdrawn.status_code == 200 and withdrawn.get_json()["state"] == "draft"
    assert api.get("truongban", "/tasks").get_json()["tasks"] == []
    assert api.post("chuyenvien", f"/documents/{doc_id}/submit").status_code == 200
    act(api, "truongban", doc_id, "approve")
    late = api.post("chuyenvien", f"/documents/{doc_id}/withdraw")
    assert late.status_code == 409 and "đã có người xử lý" in late.get_json()["detail"]


def test_admin_reassigns_and_others_cannot(api: Api) -> None:
    doc_id = upload_on(api)
    task = api.task_for("truongban", doc_id)
    assert (
        api.post("truongban", f"/tasks/{task['id']}/reassign", json={"to": "kiemtra"}).status_code
        == 403
    )
    moved = api.post("admin", f"/tasks/{task['id']}/reassign", json={"to": "kiemtra"})
    assert moved.status_code == 201
    assert api.post("truongban", f"/tasks/{task['id']}/approve", json={}).status_code == 409
    act(api, "kiemtra", doc_id, "approve")


def test_comments_at_any_time(api: Api) -> None:
    doc_id = upload_on(api)
    assert (
        api.post(
            "truongban", f"/documents/{doc_id}/comments", json={"body": "Cần bổ sung số liệu"}
        ).status_code
        == 201
    )
    assert (
        api.post("vanthu", f"/documents/{doc_id}/comments", json={"body": "x"}).status_code == 404
    )
    comments = api.get("chuyenvien", f"/documents/{doc_id}/comments").get_json()["comments"]
    assert [c["body"] for c in comments] == ["Cần bổ sung số liệu"]


def test_seal_refused_without_the_competent_signature(api: Api) -> None:
    route = {
        "code": "ban-hanh-thieu-ky",
        "name": "Tuyến thử nghiệm: ban hành không qua bước ký",
        "stages": [
            {"name": "Lãnh đạo ban duyệt", "action": "approve", "assignee_role": "approver"},
            {
                "name": "Văn thư ban hành",
                "action": "issue",
                "assignee_role": "clerk",
                "assignee_unit": "VP",
            },
        ],
    }
    assert api.post("admin", "/routes", json=route).status_code == 201
    doc_id = upload_on(api, route="ban-hanh-thieu-ky")
    act(api, "truongban", doc_id, "approve")
    task = api.task_for("vanthu", doc_id)
    refused = api.post("vanthu", f"/tasks/{task['id']}/issue", json={})
    assert refused.status_code == 409
    assert "chưa có chữ ký số của người có thẩm quyền" in refused.get_json()["detail"]
    assert api.get("kiemtra", f"/documents/{doc_id}").get_json()["number"] is None


# Route versions (MAX in SQL) and conditions stored as JSON.
@pytest.mark.usefixtures("clock")
@pytest.mark.both_databases
def test_route_versions_and_conditions(api: Api) -> None:
    base = {
        "code": "thu-nghiem",
        "name": "Tuyến thử nghiệm",
        "stages": [
            {"name": "Duyệt", "action": "approve", "assignee_role": "approver", "deadline_days": 2},
            {
                "name": "Lấy ý kiến Ban Kiểm tra",
                "action": "consult",
                "assignee_user": "kiemtra",
                "when": {"doc_types": ["QĐ"]},
            },
            {"name": "Ký", "action": "sign", "assignee_role": "signer", "assignee_unit": "TT"},
        ],
    }
    v1 = api.post("admin", "/routes", json=base).get_json()
    assert v1["version"] == 1
    doc_cv = upload_on(api, route="thu-nghiem", doc_type="CV")
    doc_qd = upload_on(api, route="thu-nghiem", doc_type="QĐ")
    v2 = api.post("admin", "/routes", json={**base, "stages": base["stages"][:1]}).get_json()
    assert v2["version"] == 2
    # Documents keep the version they started on.
    assert api.get("kiemtra", f"/documents/{doc_cv}").get_json()["route"]["version"] == 1
    task = api.task_for("truongban", doc_cv)
    assert task["due_at"] is not None and not task["overdue"]
    act(api, "truongban", doc_cv, "approve")
    assert state(api, doc_cv) == "awaiting_signature"  # the consult stage does not apply to CV
    act(api, "truongban", doc_qd, "approve")
    consult = api.task_for("kiemtra", doc_qd)
    assert consult["action"] == "consult"
    assert api.post("kiemtra", f"/tasks/{consult['id']}/approve", json={}).status_code == 422
    answered = api.post(
        "kiemtra",
        f"/tasks/{consult['id']}/approve",
        json={"answer": "y_kien_khac", "comment": "Đề nghị bổ sung căn cứ"},
    )
    assert answered.status_code == 200 and answered.get_json()["task"]["answer"] == "y_kien_khac"


@pytest.mark.parametrize(
    "route",
    [
        {"code": "x", "name": "x", "stages": []},
        {
            "code": "x y",
            "name": "x",
            "stages": [{"name": "a", "action": "approve", "assignee_role": "approver"}],
        },
        {
            "code": "x",
            "name": "x",
            "stages": [{"name": "a", "action": "dance", "assignee_role": "approver"}],
        },
        {
            "code": "x",
            "name": "x",
            "stages": [{"name": "a", "action": "approve", "assignee_role": "king"}],
        },
        {
            "code": "x",
            "name": "x",
            "stages": [
                {
                    "name": "a",
                    "action": "approve",
                    "assignee_role": "approver",
                    "assignee_unit": "NOPE",
                }
            ],
        },
        {
            "code": "x",
            "name": "x",
            "stages": [
                {
                    "name": "a",
                    "action": "approve",
                    "assignee_role": "approver",
                    "when": {"doc_types": ["ZZ"]},
                }
            ],
        },
    ],
    ids=["no-stages", "bad-code", "bad-action", "bad-role", "bad-unit", "bad-condition"],
)
def test_bad_route_templates_are_refused(api: Api, route: dict[str, Any]) -> None:
    response = api.post("admin", "/routes", json=route)
    assert response.status_code == 422, response.get_json()


def test_classified_documents_are_metadata_only(api: Api) -> None:
    refused = api.post(
        "vanthu",
        "/documents",
        data={
            "classification": "mat",
            "doc_type": "CV",
            "subject": "Về công tác bảo vệ chính trị nội bộ",
            "file": (BytesIO(simple_pdf()), "mat.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422 and "không được tải nội dung" in refused.get_json()["detail"]
    mat = api.post(
        "vanthu",
        "/documents",
        data={
            "classification": "mat",
            "doc_type": "CV",
            "subject": "Về công tác bảo vệ chính trị nội bộ",
        },
        content_type="multipart/form-data",
    )
    assert mat.status_code == 201, mat.get_json()
    body = mat.get_json()
    assert (
        body["metadata_only"] and body["classification"] == "mat" and body["symbol"] == "01-CV/ĐUK"
    )
    assert body["register"] == "outgoing_classified"
    secret = api.post(
        "vanthu",
        "/documents",
        json={"classification": "tuyet_mat", "doc_type": "CV", "subject": "Lộ"},
    )
    assert secret.status_code == 422
    secret = api.post(
        "vanthu", "/documents", json={"classification": "tuyet_mat", "doc_type": "CV"}
    )
    assert (
        secret.status_code == 201
        and secret.get_json()["subject"] == ""
        and secret.get_json()["number"] == 2
    )
    doc_id = body["id"]
    upload = api.post(
        "vanthu",
        f"/documents/{doc_id}/revisions",
        data={"file": (BytesIO(simple_pdf()), "x.pdf")},
        content_type="multipart/form-data",
    )
    assert upload.status_code in (403, 422)
    assert api.get("vanthu", f"/documents/{doc_id}/file").status_code == 409
    assert (
        api.post(
            "chuyenvien",
            "/documents",
            json={"classification": "mat", "doc_type": "CV", "subject": "x"},
        ).status_code
        == 403
    )


def test_recall_freezes_an_issued_document(api: Api) -> None:
    doc_id = upload_on(api)
    act(api, "truongban", doc_id, "approve")
    act(api, "vanthu", doc_id, "approve")
    act(api, "bithu", doc_id, "sign", {"passphrase": DEMO_PASSWORD})
    act(api, "vanthu", doc_id, "issue")
    assert (
        api.post("chuyenvien", f"/documents/{doc_id}/recall", json={"reason": "x"}).status_code
        == 403
    )
    assert api.post("vanthu", f"/documents/{doc_id}/recall", json={}).status_code == 422
    recalled = api.post(
        "vanthu", f"/documents/{doc_id}/recall", json={"reason": "Ban hành nhầm số"}
    )
    assert recalled.status_code == 200 and recalled.get_json()["state"] == "recalled"
    assert (
        api.post("vanthu", f"/documents/{doc_id}/recall", json={"reason": "again"}).status_code
        == 409
    )
