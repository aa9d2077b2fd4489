"""Documents as they arrive: already signed by others (countersigning), certified against
new signatures, damaged but repairable, encrypted with the empty password."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from pyhanko.sign.fields import MDPPerm
from sqlalchemy import select

from storage.ledger import LedgerEntry
from storage.models import AuditEvent, Revision
from tests.conftest import DEMO_PASSWORD, Api, closed
from tests.foreign_pdfs import foreign_ca_signer, self_signed_signer, signed_by
from tests.pdfs import encrypted_pdf, simple_pdf
from tests.test_web import csrf_token, login
from workflow.services import Services

VERIFY_TOOL = Path("/work/shared/tools/independent_verify.py")
VERIFY_PYTHON = Path.home() / ".cache/independent_verify/venv/bin/python"
needs_validators = pytest.mark.skipif(
    not VERIFY_TOOL.exists() or not VERIFY_PYTHON.exists() or shutil.which("pdfsig") is None,
    reason="independent_verify.py or its environment is missing",
)


def to_signature(api: Api, data: bytes) -> tuple[int, int]:
    """Upload ``data``, submit, approve: (document id, bithu's sign task id)."""
    created = api.upload("chuyenvien", data)
    assert created.status_code == 201, created.get_json()
    doc_id = created.get_json()["id"]
    assert api.post("chuyenvien", f"/documents/{doc_id}/submit").status_code == 200
    task = api.task_for("truongban", doc_id)
    assert api.post("truongban", f"/tasks/{task['id']}/approve", json={}).status_code == 200
    return doc_id, api.task_for("bithu", doc_id)["id"]


def sign(api: Api, task_id: int) -> Any:
    return api.post("bithu", f"/tasks/{task_id}/sign", json={"passphrase": DEMO_PASSWORD})


def independent(services: Services, pdf: bytes, tmp_path: Path, *extra: str) -> str:
    """Run every independent validator on ``pdf`` with TrinhKy's root; :returns: output."""
    path, root = tmp_path / "signed.pdf", tmp_path / "root.pem"
    path.write_bytes(pdf)
    root.write_bytes(services.trust.trust_roots_pem[0])
    result = subprocess.run(  # noqa: S603
        [
            sys.executable,
            str(VERIFY_TOOL),
            "--python",
            str(VERIFY_PYTHON),
            *extra,
            str(path),
            str(root),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize("make_signer", [self_signed_signer, foreign_ca_signer])
def test_countersigning_a_foreign_signature(
    api: Api, services: Services, client: Any, make_signer: Any, tmp_path: Path
) -> None:
    foreign = make_signer()
    doc_id, task_id = to_signature(api, signed_by(foreign))

    # The signer sees the earlier signature before signing: untrusted, intact.
    before = api.get("bithu", f"/documents/{doc_id}/validation").get_json()
    (theirs,) = before["signatures"]
    assert (
        theirs["signer_name"]
        == foreign.chain[0].subject.rfc4514_string().split("CN=")[1].split(",")[0]
    )
    assert theirs["intact"] and not theirs["trusted"] and theirs["trust_list"] == ""

    assert login(client, "bithu").status_code == 302
    page = closed(client.get(f"/documents/{doc_id}")).get_data(as_text=True)
    assert "Văn bản đã có 1 chữ ký số trước đó" in page

    done = sign(api, task_id)
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    (earlier,) = body["earlier_signatures"]
    assert earlier["field_name"] == "ChuKyDoiTac"
    assert not earlier["trusted"] and earlier["intact"] and earlier["kept_intact"]
    ours = body["validation"]["signatures"][-1]
    assert ours["bottom_line"] and ours["trusted"] and ours["trust_list"] == "TrinhKy"
    assert body["document"]["state"] == "signed"
    history = api.get("chuyenvien", f"/documents/{doc_id}").get_json()["history"]
    assert "document:signed" in [h["action"] for h in history]


def test_trust_list_import_names_the_list_and_revalidates_the_ledger(
    api: Api, services: Services, client: Any
) -> None:
    foreign = foreign_ca_signer()
    doc_id, task_id = to_signature(api, signed_by(foreign))
    assert sign(api, task_id).status_code == 200
    with services.session_factory() as s:
        entry = s.scalars(
            select(LedgerEntry).where(LedgerEntry.target == "T2", LedgerEntry.subject_id == doc_id)
        ).one()
        assert entry.state == "signed_invalid"  # the foreign signature is untrusted

    # Only administrators manage the list.
    body = {"pem": foreign.root_pem.decode(), "list_name": "CA công cộng thử nghiệm"}
    assert api.post("bithu", "/trust/certificates", json=body).status_code == 403
    imported = api.post("admin", "/trust/certificates", json=body)
    assert imported.status_code == 201, imported.get_json()
    change = imported.get_json()
    assert change["revalidated"] == 1 and change["version"] >= 1
    (cert,) = change["certificates"]
    assert (
        cert["kind"] == "root"
        and cert["fingerprint_sha256"] == foreign.chain[-1].fingerprint(hashes.SHA256()).hex()
    )
    assert api.post("admin", "/trust/certificates", json=body).status_code == 409

    report = api.get("bithu", f"/documents/{doc_id}/validation").get_json()
    assert report["verdict"] == "valid", report
    assert [s["trust_list"] for s in report["signatures"]] == [
        "CA công cộng thử nghiệm",
        "TrinhKy",
    ]
    with services.session_factory() as s:
        entry = s.scalars(
            select(LedgerEntry).where(LedgerEntry.target == "T2", LedgerEntry.subject_id == doc_id)
        ).one()
        assert entry.state == "signed_valid"

    listed = api.get("admin", "/trust/certificates").get_json()
    assert [c["list_name"] for c in listed["certificates"]] == [
        "TrinhKy",
        "CA công cộng thử nghiệm",
    ]
    assert listed["certificates"][0]["id"] is None  # the server's own root: not removable

    # The page shows it; removal through the page (CSRF form) re-validates again.
    assert login(client, "admin").status_code == 302
    page = closed(client.get("/admin/trust")).get_data(as_text=True)
    assert cert["fingerprint_sha256"] in page and "CA công cộng thử nghiệm" in page
    removed = closed(
        client.post(
            f"/admin/trust/{cert['id']}/remove",
            data={"csrf_token": csrf_token(client, "/admin/trust")},
        )
    )
    assert removed.status_code == 302, removed.get_data(as_text=True)
    assert api.get("admin", "/trust/certificates").get_json()["version"] > change["version"]
    with services.session_factory() as s:
        entry = s.scalars(
            select(LedgerEntry).where(LedgerEntry.target == "T2", LedgerEntry.subject_id == doc_id)
        ).one()
        assert entry.state == "signed_invalid"
        actions = [a for a in s.scalars(select(AuditEvent.action)) if a.startswith("trust:")]
        assert actions == ["trust:added", "trust:removed"]


@pytest.mark.parametrize("perm", [MDPPerm.NO_CHANGES, MDPPerm.FILL_FORMS])
def test_certified_document_refused_at_upload(api: Api, count_rows: Any, perm: MDPPerm) -> None:
    certified = signed_by(self_signed_signer(), certify=perm)
    refused = api.upload("chuyenvien", certified)
    assert refused.status_code == 422, refused.get_json()
    problem = refused.get_json()
    expected = "certified_no_changes" if perm == MDPPerm.NO_CHANGES else "certified_no_new_fields"
    assert problem["code"] == f"pdf_{expected}"
    assert "chứng thực" in problem["detail"]
    assert count_rows(Revision) == 0


def damaged(kind: str) -> bytes:
    base = simple_pdf("Bao cao bi hong", pages=2)
    if kind == "startxref":
        return re.sub(rb"startxref\n\d+", b"startxref\n999999", base)
    if kind == "header":
        return b"\x00garbage" * 200 + base
    return base.replace(b"xref\n0 ", b"xrxf\n0 ")


@needs_validators
def test_repaired_file_signed_and_valid_everywhere(
    api: Api, services: Services, tmp_path: Path
) -> None:
    upload = damaged("startxref")
    doc_id, task_id = to_signature(api, upload)
    with services.session_factory() as s:
        rev = s.query(Revision).filter_by(document_id=doc_id).one()
        assert rev.conversion == "repaired" and rev.original_sha256 is not None
        assert services.blobs.read_bytes(rev.original_sha256) == upload
        assert services.blobs.read_bytes(rev.blob_sha256) != upload
    current = api.get("chuyenvien", f"/documents/{doc_id}").get_json()["revision"]
    assert current["conversion"] == "repaired"
    assert current["original_sha256"] == rev.original_sha256
    done = sign(api, task_id)
    assert done.status_code == 200, done.get_json()
    report = api.get("bithu", f"/documents/{doc_id}/validation").get_json()
    assert report["verdict"] == "valid" and report["repaired"] is True
    assert report["original_sha256"] == rev.original_sha256
    signed = api.get("bithu", f"/documents/{doc_id}/file").data
    independent(services, signed, tmp_path)


@pytest.mark.parametrize("kind", ["header", "xref"])
def test_other_repairable_damage_accepted(api: Api, services: Services, kind: str) -> None:
    created = api.upload("chuyenvien", damaged(kind))
    assert created.status_code == 201, created.get_json()


def test_unrepairable_file_refused_with_the_reason(api: Api, count_rows: Any) -> None:
    data = simple_pdf(pages=3)
    refused = api.upload("chuyenvien", data[: len(data) * 2 // 3])
    assert refused.status_code == 422
    problem = refused.get_json()
    assert problem["code"] == "pdf_truncated"
    assert "thử sửa tự động" in problem["detail"]
    assert count_rows(Revision) == 0


@needs_validators
def test_empty_password_file_is_decrypted_to_a_clean_copy(
    api: Api, services: Services, tmp_path: Path
) -> None:
    upload = encrypted_pdf(user_password="")
    doc_id, task_id = to_signature(api, upload)
    with services.session_factory() as s:
        rev = s.query(Revision).filter_by(document_id=doc_id).one()
        assert rev.conversion == "decrypted"
        assert services.blobs.read_bytes(rev.original_sha256 or "") == upload
        assert b"/Encrypt" not in services.blobs.read_bytes(rev.blob_sha256)
    assert sign(api, task_id).status_code == 200
    independent(services, api.get("bithu", f"/documents/{doc_id}/file").data, tmp_path)


def broken_xmp_pdf() -> bytes:
    """A PDF whose XMP metadata stream is not XML (pyHanko rewrites XMP when signing),
    added by a hand-written incremental update."""
    base = simple_pdf("Sieu du lieu hong")
    match = re.search(rb"startxref\n(\d+)", base)
    assert match is not None
    xmp = b"<x:xmpmeta <<< not xml"
    out = bytearray(base)
    at6 = len(out)
    out += (
        b"6 0 obj\n<< /Type /Metadata /Subtype /XML /Length %d >>\nstream\n%s\nendstream\nendobj\n"
        % (
            len(xmp),
            xmp,
        )
    )
    at1 = len(out)
    out += b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R /Metadata 6 0 R >>\nendobj\n"
    xref = len(out)
    out += b"xref\n0 2\n0000000000 65535 f \n%010d 00000 n \n6 1\n%010d 00000 n \n" % (at1, at6)
    out += b"trailer\n<< /Size 7 /Root 1 0 R /Prev %s >>\nstartxref\n%d\n%%%%EOF\n" % (
        match.group(1),
        xref,
    )
    return bytes(out)


def test_unreadable_metadata_is_dropped_and_the_file_signed(api: Api, services: Services) -> None:
    doc_id, task_id = to_signature(api, broken_xmp_pdf())
    current = api.get("chuyenvien", f"/documents/{doc_id}").get_json()["revision"]
    assert current["conversion"] == "repaired" and current["original_sha256"]
    done = sign(api, task_id)
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["validation"]["verdict"] == "valid"
