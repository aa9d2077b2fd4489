"""The auditor's journey in the browser, by the visible Vietnamese labels: the coverage
dashboard, a drill-down to an issued document whose signature no longer holds, the
verification page (a signed PDF, then a tampered copy), the audit log's chain status,
and the audit bundle's download. Screenshots and axe-core results go to test-artifacts/."""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from storage.blobs import FilesystemBlobStore
from tests.browser.conftest import STEP_TIMEOUT_MS, Walk, api_token, open_as
from tests.conftest import DEMO_PASSWORD, rewrite_blob
from tests.pdfs import simple_pdf
from tests.servers import Served

pytestmark = pytest.mark.browser

ROUTE = "thuong-truc-ban-hanh"  # approve → review (Văn phòng) → sign → issue
GOOD = "Về việc triển khai Nghị quyết về chuyển đổi số trong Đảng bộ Khối"
BAD = "Về việc báo cáo kết quả kiểm tra, giám sát quý IV năm 2026"


@pytest.fixture(autouse=True)
def _patient_expect() -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=STEP_TIMEOUT_MS)


def _post(base: str, user: str, path: str, **kwargs: Any) -> requests.Response:
    r = requests.post(base + path, headers=api_token(base, user), timeout=180, **kwargs)
    assert r.ok, (path, r.status_code, r.text)
    return r


def _task(base: str, user: str, doc_id: int) -> int:
    r = requests.get(base + "/api/v1/tasks", headers=api_token(base, user), timeout=60)
    r.raise_for_status()
    ids = [t["id"] for t in r.json()["tasks"] if t["document_id"] == doc_id]
    assert ids, (user, doc_id, r.json())
    return int(ids[0])


def issued_by_api(base: str, subject: str, text: str) -> dict[str, Any]:
    """Upload, submit and walk a document through the issuing route over the API.

    :returns: the document's API form after issuance.
    """
    created = _post(
        base,
        "chuyenvien",
        "/api/v1/documents",
        files={"file": ("van-ban.pdf", simple_pdf(text), "application/pdf")},
        data={"subject": subject, "doc_type": "CV", "route": ROUTE},
    )
    doc_id = int(created.json()["id"])
    _post(base, "chuyenvien", f"/api/v1/documents/{doc_id}/submit")
    _post(base, "truongban", f"/api/v1/tasks/{_task(base, 'truongban', doc_id)}/approve", json={})
    _post(base, "vanthu", f"/api/v1/tasks/{_task(base, 'vanthu', doc_id)}/approve", json={})
    _post(
        base,
        "bithu",
        f"/api/v1/tasks/{_task(base, 'bithu', doc_id)}/sign",
        json={"passphrase": DEMO_PASSWORD},
    )
    issued = _post(base, "vanthu", f"/api/v1/tasks/{_task(base, 'vanthu', doc_id)}/issue")
    document: dict[str, Any] = issued.json()["document"]
    assert document["symbol"] and document["revision"]["kind"] == "signed", document
    return document


def signed_file(base: str, doc_id: int) -> bytes:
    r = requests.get(
        f"{base}/api/v1/documents/{doc_id}/file", headers=api_token(base, "kiemtra"), timeout=60
    )
    assert r.ok and r.content.startswith(b"%PDF"), r.text[:200]
    return r.content


def tampered(pdf: bytes, text: str) -> bytes:
    """``pdf`` with one letter of its signed page text changed (same length)."""
    needle = text.encode("latin-1")
    assert pdf.count(needle) == 1, "the page text is in the signed file once"
    return pdf.replace(needle, needle[:-1] + (b"X" if needle[-1:] != b"X" else b"Y"))


def tamper_stored(server: Served, sha256: str, text: str) -> None:
    """Change the stored issued file on the server's disk (an incident the ledger's
    revalidation must catch), through the server's filesystem blob store."""
    blobs = FilesystemBlobStore(server.instance / "blobs")
    rewrite_blob(blobs, sha256, lambda data: tampered(data, text))


def pdf_upload(name: str, data: bytes) -> dict[str, Any]:
    return {"name": name, "mimeType": "application/pdf", "buffer": data}


def test_auditor_journey(
    new_page: Callable[..., Any], server: Served, walk: Walk, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    # Arrange over the API: two issued documents; the stored file of one is changed.
    good = issued_by_api(server.base, GOOD, "Nghi quyet chuyen doi so")
    bad = issued_by_api(server.base, BAD, "Bao cao kiem tra quy IV")
    signed = signed_file(server.base, good["id"])
    tamper_stored(server, bad["revision"]["sha256"], "Bao cao kiem tra quy IV")

    # 1. The coverage dashboard: re-check the signatures, T2 is no longer met.
    auditor = open_as(new_page, "kiemtra")
    walk.step(auditor, "auditor-home")
    auditor.get_by_role("link", name="Chỉ tiêu chuyển đổi số").click()
    expect(auditor.get_by_role("heading", level=1)).to_have_text("Chỉ tiêu chuyển đổi số")
    t2 = auditor.locator("tbody tr", has=auditor.get_by_role("rowheader", name=re.compile("^T2")))
    expect(t2).to_contain_text("Đạt")  # checked when issued, before the file was changed
    walk.step(auditor, "dashboard")
    auditor.get_by_role("button", name="Cập nhật sổ và kiểm tra lại chữ ký số").click()
    expect(auditor.locator(".flash")).to_contain_text("1 thay đổi trạng thái")
    expect(t2).to_contain_text("Chưa đạt")
    walk.step(auditor, "dashboard-rechecked")

    # 2. Drill down to the document whose signature fails.
    t2.get_by_role("link", name="Xem danh sách").click()
    expect(auditor.get_by_role("heading", level=1)).to_contain_text("T2")
    miss = auditor.locator("tbody tr", has_text=BAD)
    expect(auditor.locator("tbody tr")).to_have_count(1)
    expect(miss).to_contain_text(bad["symbol"])
    expect(miss).to_contain_text("không khớp mã băm")
    walk.step(auditor, "misses-T2")
    miss.get_by_role("link", name=bad["symbol"]).click()
    expect(auditor.get_by_role("heading", level=1)).to_have_text(BAD)
    expect(auditor.get_by_role("main")).to_contain_text("Có chữ ký không hợp lệ")
    qr = auditor.get_by_role("img", name="Mã QR xác thực")
    expect(qr).to_be_visible()
    qr.evaluate("i => i.decode()")  # rejects when the image cannot be loaded
    walk.step(auditor, "document-bad-signature")

    # 3. The verification page: the signed PDF passes, a tampered copy fails.
    auditor.get_by_role("link", name="Kiểm tra chữ ký").click()
    expect(auditor.get_by_role("heading", level=1)).to_have_text("Kiểm tra chữ ký số của tệp PDF")
    walk.step(auditor, "verify-form")
    auditor.get_by_label("Tệp PDF cần kiểm tra").set_input_files(pdf_upload("da-ky.pdf", signed))
    auditor.get_by_role("button", name="Kiểm tra", exact=True).click()
    report = auditor.get_by_role("main")
    expect(auditor.get_by_role("heading", level=1)).to_have_text("Báo cáo kiểm tra chữ ký số")
    expect(report).to_contain_text("da-ky.pdf")
    expect(report.locator("section").first).to_contain_text("Hợp lệ (TOTAL-PASSED)")
    expect(report).to_contain_text("Lê Văn Đức")
    walk.step(auditor, "verify-signed")
    auditor.get_by_role("link", name="Kiểm tra chữ ký").click()
    auditor.get_by_label("Tệp PDF cần kiểm tra").set_input_files(
        pdf_upload("da-ky-bi-sua.pdf", tampered(signed, "Nghi quyet chuyen doi so"))
    )
    auditor.get_by_role("button", name="Kiểm tra", exact=True).click()
    expect(report).to_contain_text("da-ky-bi-sua.pdf")
    expect(report.locator("section").first).to_contain_text("Không hợp lệ (TOTAL-FAILED")
    expect(report).not_to_contain_text("TOTAL-PASSED")
    walk.step(auditor, "verify-tampered")

    # 4. The audit log: the chain is intact, also when checked from its first entry.
    auditor.get_by_role("link", name="Nhật ký", exact=True).click()
    expect(auditor.get_by_role("heading", level=1)).to_have_text("Nhật ký kiểm toán")
    status = auditor.locator("section", has=auditor.get_by_role("heading", name="Tình trạng"))
    expect(status).to_contain_text("Toàn vẹn")
    walk.step(auditor, "audit-log")
    auditor.get_by_role("button", name="Kiểm tra toàn bộ chuỗi").click()
    expect(status).to_contain_text(re.compile(r"Toàn vẹn: \d+ bản ghi .* từ bản ghi đầu tiên"))
    expect(status).not_to_contain_text("Không toàn vẹn")
    walk.step(auditor, "audit-log-full-check")

    # 5. The audit bundle: a ZIP with its manifest arrives.
    auditor.get_by_role("link", name="Gói kiểm toán").click()
    expect(auditor.get_by_role("heading", level=1)).to_have_text("Xuất gói kiểm toán")
    walk.step(auditor, "bundle-form")
    with auditor.expect_download(timeout=STEP_TIMEOUT_MS * 2) as arriving:
        auditor.get_by_role("button", name="Xuất gói kiểm toán").click()
    download = arriving.value
    assert download.failure() is None
    assert download.suggested_filename.endswith(".zip"), download.suggested_filename
    bundle = tmp_path / download.suggested_filename
    download.save_as(bundle)
    with zipfile.ZipFile(bundle) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        assert "manifest.json" in names, names
        manifest = json.loads(zf.read("manifest.json"))
    listed = {f["name"] for f in manifest["files"]}
    assert listed and listed <= set(names), (sorted(listed), names)
    documents = {d["id"]: d for d in manifest["documents"]}
    assert {good["id"], bad["id"]} <= set(documents), manifest["documents"]

    walk.assert_accessible()
