"""Issue #4, "any real-world PDF": files encrypted with an empty user password (they open
without asking in every viewer) go through the whole workflow, stay encrypted, and their
signatures validate in pyHanko and the independent validators; a file that needs a real
password is refused with a message saying to remove it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import select

from signing.validate import MSG_ENCRYPTED, validate_pdf
from storage.models import Revision
from tests.conftest import DEMO_PASSWORD, Api
from tests.pdfs import encrypted_pdf, simple_pdf
from tests.test_journey_api import INDEPENDENT_VERIFY
from tests.test_workflow_routes import FULL, act
from workflow.services import Services

QPDF = shutil.which("qpdf")


def qpdf_encrypt(data: bytes, tmp_path: Path, *args: str) -> bytes:
    """``data`` encrypted by qpdf (another implementation than pyHanko's writer)."""
    assert QPDF is not None
    src, dst = tmp_path / "plain-src.pdf", tmp_path / "enc-out.pdf"
    src.write_bytes(data)
    weak = ["--allow-weak-crypto"] if "256" not in args else []
    subprocess.run(  # noqa: S603
        [QPDF, *weak, "--encrypt", *args, "--", str(src), str(dst)], check=True, timeout=60
    )
    return dst.read_bytes()


def upload(api: Api, data: bytes) -> Any:
    return api.post(
        "chuyenvien",
        "/documents",
        data={
            "file": (BytesIO(data), "nghi-quyet-ma-hoa.pdf"),
            "subject": "Nghị quyết (tệp PDF có mã hóa, mật khẩu mở rỗng)",
            "doc_type": "NQ",
            "route": FULL,
        },
        content_type="multipart/form-data",
    )


CRYPTO_VALIDATORS = ("openssl", "pdfsig", "pdfbox", "endesive", "pdfsignerpy", "mutool")
CANNOT_READ: dict[str, dict[str, str]] = {
    "aes256": {},
    "aes128": {
        "pdfsignerpy": "pdfsignerpy 0.3 (a young Rust engine) reports no signature at all in "
        "AES-128 files (/V 4, /CFM /AESV2 crypt filter), though it reads the same document "
        "encrypted with AES-256; every other validator checks both signatures",
    },
}
"""Independent validators that cannot check an encrypted result, per encryption, and why:
they must say cannot-check (never invalid); everyone else must say valid."""


ENCRYPTIONS = {"aes256": ("", "owner", "256"), "aes128": ("", "owner", "128", "--use-aes=y")}


@pytest.mark.parametrize("encryption_id", list(ENCRYPTIONS))
def test_encrypted_with_empty_password_is_signed_issued_and_validates(
    api: Api, services: Services, tmp_path: Path, db_backend: str, encryption_id: str
) -> None:
    encryption = ENCRYPTIONS[encryption_id]
    if QPDF is None:
        pytest.skip("qpdf is not installed (`make test-deps`)")
    data = qpdf_encrypt(simple_pdf("Van ban ma hoa"), tmp_path, *encryption)
    assert PdfFileReader(BytesIO(data)).encrypted
    created = upload(api, data)
    assert created.status_code == 201, created.get_json()
    doc_id = created.get_json()["id"]
    assert api.post("chuyenvien", f"/documents/{doc_id}/submit").status_code == 200
    act(api, "truongban", doc_id, "approve")
    act(api, "vanthu", doc_id, "approve")
    signed = act(api, "bithu", doc_id, "sign", {"passphrase": DEMO_PASSWORD})
    assert signed["validation"]["verdict"] == "valid"
    issued = act(api, "vanthu", doc_id, "issue")
    assert issued["document"]["state"] == "issued"

    result = api.get("chuyenvien", f"/documents/{doc_id}/file").data
    out = tmp_path / "issued-encrypted.pdf"
    out.write_bytes(result)
    reader = PdfFileReader(BytesIO(result))
    # Decrypted at upload into a clean copy (README: the choice for encrypted inputs);
    # the encrypted original is kept beside the first revision.
    assert not reader.encrypted
    with services.session_factory() as session:
        first = session.scalars(
            select(Revision).where(Revision.document_id == doc_id, Revision.number == 1)
        ).one()
        assert first.conversion == "decrypted"
        assert services.blobs.read_bytes(first.original_sha256 or "") == data
    report = validate_pdf(out, services.trust, services.trust_services.revocation_source())
    assert report.bottom_line and len(report.signatures) == 2, report.to_dict()
    leader, seal = report.signatures
    assert leader.intact and leader.bottom_line and seal.bottom_line
    validation = api.get("kiemtra", f"/documents/{doc_id}/validation").get_json()
    assert validation["verdict"] == "valid", validation
    # The auditors' report (ETSI EN 319 102-1 indication) on the same file, uploaded.
    checked = api.post(
        "kiemtra",
        "/validate",
        data={"file": (BytesIO(result), "kiem-tra.pdf")},
        content_type="multipart/form-data",
    )
    assert checked.status_code == 200, checked.get_json()
    body = checked.get_json()
    assert body["indication"] == {"indication": "TOTAL-PASSED", "sub_indication": None}, body
    assert len(body["signatures"]) == 2
    for sig in body["signatures"]:  # the facts are read from the decrypted file too
        assert sig["certificate_chain"] and sig["trust"]["root"], sig
        assert sig["coverage"]["signed_revision"] is not None

    if not INDEPENDENT_VERIFY.exists() or db_backend != "sqlite":
        return
    root = tmp_path / "root.pem"
    root.write_bytes(api.client.get("/pki/root.pem").data)
    verify_python = Path.home() / ".cache/independent_verify/venv/bin/python"
    cmd = [sys.executable, str(INDEPENDENT_VERIFY)]
    if verify_python.exists():
        cmd += ["--python", str(verify_python)]
    run = subprocess.run([*cmd, str(out), str(root)], capture_output=True, text=True, timeout=600)
    print(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = {line.split(":")[0]: line for line in run.stdout.splitlines() if ":" in line}
    cannot = CANNOT_READ[encryption_id]
    for validator in CRYPTO_VALIDATORS:
        verdict = lines.get(validator, "")
        # Every validator reads the clean copy (none of CANNOT_READ applies any more).
        assert ": valid" in verdict, (cannot, run.stdout)


def test_real_password_is_refused_with_advice(api: Api, tmp_path: Path) -> None:
    for data in (encrypted_pdf("mat-khau"),) + (
        (qpdf_encrypt(simple_pdf(), tmp_path, "user-pw", "owner", "256"),) if QPDF else ()
    ):
        refused = upload(api, data)
        assert refused.status_code == 422, refused.get_json()
        body = refused.get_json()
        assert body["code"] == "pdf_encrypted"
        assert "gỡ mật khẩu" in body["detail"], body


def test_validate_pdf_opens_empty_password_files_only(services: Services, tmp_path: Path) -> None:
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(encrypted_pdf("mat-khau"))
    report = validate_pdf(locked, services.trust)
    assert report.error == MSG_ENCRYPTED and report.verdict == "unreadable"
    opened = tmp_path / "open.pdf"
    opened.write_bytes(encrypted_pdf(""))
    report = validate_pdf(opened, services.trust)
    assert report.error is None and report.verdict == "unsigned"
