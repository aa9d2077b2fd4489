"""The whole journey through the JSON API: upload → submit → approve → sign → verify."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from asn1crypto import cms
from pyhanko.pdf_utils.reader import PdfFileReader

from tests.conftest import Api, closed
from tests.pdfs import simple_pdf
from workflow.services import Services

INDEPENDENT_VERIFY = (
    Path(__file__).resolve().parents[2] / "shared" / "tools" / "independent_verify.py"
)


def run_journey(api: Api) -> tuple[int, bytes]:
    created = api.upload("chuyenvien", simple_pdf(), subject="Về việc học tập Nghị quyết Đại hội")
    assert created.status_code == 201
    doc = created.get_json()
    assert doc["state"] == "draft"
    doc_id = doc["id"]

    submitted = api.post("chuyenvien", f"/documents/{doc_id}/submit").get_json()
    assert submitted["state"] == "in_review"

    task = api.task_for("truongban", doc_id)
    assert task["action"] == "approve" and task["step"] == 1
    approved = api.post("truongban", f"/tasks/{task['id']}/approve", json={"comment": "Đồng ý"})
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["document"]["state"] == "awaiting_signature"

    task = api.task_for("bithu", doc_id)
    assert task["action"] == "sign"
    from tests.conftest import DEMO_PASSWORD

    signed = api.post("bithu", f"/tasks/{task['id']}/sign", json={"passphrase": DEMO_PASSWORD})
    assert signed.status_code == 200, signed.get_json()
    body = signed.get_json()
    assert body["document"]["state"] == "signed"
    assert body["validation"]["verdict"] == "valid"

    pdf = api.get("chuyenvien", f"/documents/{doc_id}/file")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    return doc_id, pdf.data


# The main journey, end to end, on each database.
# About the production default level (B-LT: a DSS after the signature).
@pytest.mark.signature_level()
@pytest.mark.both_databases
def test_journey_through_the_api(api: Api, services: Services) -> None:
    doc_id, data = run_journey(api)

    # The signature is PAdES: ETSI.CAdES.detached, SHA-256, signing-certificate-v2.
    from io import BytesIO

    reader = PdfFileReader(BytesIO(data))
    (sig,) = reader.embedded_signatures
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    signer_info = sig.signer_info
    assert signer_info["digest_algorithm"]["algorithm"].native == "sha256"
    attrs = {a["type"].native for a in signer_info["signed_attrs"]}
    assert "signing_certificate_v2" in attrs
    assert isinstance(sig.signed_data, cms.SignedData)

    validation = api.get("kiemtra", f"/documents/{doc_id}/validation").get_json()
    assert validation["verdict"] == "valid", validation
    (report,) = validation["signatures"]
    assert report["signer_name"] == "Lê Văn Đức"
    assert report["intact"] and report["trusted"] and report["valid"]
    # The default level is B-LT: the DSS (chain, OCSP, CRL) is appended after the signature.
    assert report["pades_level"] == "B-LT"
    assert report["coverage"] == "entire_revision"
    assert report["modification_level"] == "lta_updates"
    assert report["timestamp_time"].endswith("+07:00")
    assert report["signing_time"].endswith("+07:00")

    detail = api.get("chuyenvien", f"/documents/{doc_id}").get_json()
    actions = [h["action"] for h in detail["history"]]
    for expected in (
        "document:uploaded",
        "document:submitted",
        "document:step:approved",
        "document:signed",
        "document:downloaded",
    ):
        assert expected in actions
    assert [r["number"] for r in [detail["revision"]]] == [2]


@pytest.mark.tools
def test_a_download_streams_the_blob_with_its_hash_as_etag(api: Api, services: Services) -> None:
    doc_id = api.upload("chuyenvien", simple_pdf(), subject="Tải tệp").get_json()["id"]
    url, auth = f"/api/v1/documents/{doc_id}/file", api.headers("chuyenvien")
    full = closed(api.client.get(url, headers=auth))
    key = full.headers["X-Content-SHA256"]
    assert full.status_code == 200 and full.data == services.blobs.read_bytes(key)
    assert full.headers["ETag"] == f'"{key}"' and full.headers["Accept-Ranges"] == "bytes"
    assert int(full.headers["Content-Length"]) == len(full.data)
    # Conditional and range requests are answered from the blob's key and size.
    cached = closed(api.client.get(url, headers={**auth, "If-None-Match": f'"{key}"'}))
    assert cached.status_code == 304 and cached.data == b""
    head = closed(api.client.get(url, headers={**auth, "Range": "bytes=0-4"}))
    assert head.status_code == 206 and head.data == b"%PDF-"
    # A blob lost from the store is a 404 that says so, not a crash.
    services.blobs.delete(key)
    gone = api.get("chuyenvien", f"/documents/{doc_id}/file")
    assert gone.status_code == 404 and "kho lưu trữ" in gone.get_json()["detail"]


def test_signed_pdf_passes_independent_validators(
    api: Api, services: Services, tmp_path: Path
) -> None:
    if not INDEPENDENT_VERIFY.exists():
        pytest.skip(f"team tool not found at {INDEPENDENT_VERIFY}")
    _doc_id, data = run_journey(api)
    signed = tmp_path / "signed.pdf"
    signed.write_bytes(data)
    root = tmp_path / "root.pem"
    root.write_bytes(api.client.get("/pki/root.pem").data)
    verify_python = Path.home() / ".cache/independent_verify/venv/bin/python"
    cmd = [sys.executable, str(INDEPENDENT_VERIFY), "-v"]
    if verify_python.exists():
        cmd += ["--python", str(verify_python)]
    result = subprocess.run(
        [*cmd, str(signed), str(root)], capture_output=True, text=True, timeout=600
    )
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = {line.split(":")[0]: line for line in result.stdout.splitlines() if ":" in line}
    for validator in ("openssl", "pdfsig", "coverage"):
        assert ": valid" in lines.get(validator, ""), result.stdout


@pytest.mark.tools
def test_stamp_text_has_vietnamese_diacritics(api: Api, tmp_path: Path) -> None:
    _doc_id, data = run_journey(api)
    signed = tmp_path / "signed.pdf"
    signed.write_bytes(data)
    text = subprocess.run(
        ["pdftotext", "-layout", str(signed), "-"], capture_output=True, text=True, check=True
    ).stdout
    for phrase in ("Lê Văn Đức", "Bí thư Đảng ủy Khối", "Thường trực Đảng ủy Khối", "Ngày "):
        assert phrase in text, text
    # The time as a Vietnamese reader writes it ("Ngày 06/12/2026 06:19"); the ISO time
    # stays in the signature's data.
    assert re.search(r"Ngày \d{2}/\d{2}/\d{4} \d{2}:\d{2}", text), text
