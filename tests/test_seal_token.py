"""Issue #4: the organisation's seal key on a PKCS#11 token (SoftHSM2). The key pair is
generated on the token, certified by the embedded CA with ``flask seal-token register``,
and the whole issuance runs through the API: pyHanko and the independent validators
accept both signatures; a missing token or key, a wrong PIN, or no configuration is
refused with a Vietnamese 409 and nothing written."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import func, select

from signing.validate import validate_pdf
from storage.audit import AuditAction
from storage.ledger import LedgerEntry
from storage.models import AuditEvent, Certificate, Document, Revision
from storage.verification_models import VerificationCode
from tests.conftest import DEMO_PASSWORD, Api, app_config, signature_level
from tests.test_journey_api import INDEPENDENT_VERIFY
from tests.test_workflow_routes import act, upload_on
from workflow import create_app
from workflow.services import EXTENSION_KEY, Services

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN = "Con dấu Đảng ủy Khối"
KEY = "Khóa con dấu ĐUK"
PIN = "246810"

pytestmark = pytest.mark.skipif(
    not (Path(MODULE).exists() and shutil.which("softhsm2-util") and shutil.which("pkcs11-tool"))
    or importlib.util.find_spec("pkcs11") is None,
    reason="needs SoftHSM2 and OpenSC's pkcs11-tool (`make test-deps` installs softhsm2, opensc)",
)


def _finalise() -> None:
    """SoftHSM2 reads SOFTHSM2_CONF when initialised: finalise a loaded library, so that
    its next user (python-pkcs11 initialises it again on demand) reads the current conf.
    Other test modules keep their own token folder this way, in any order."""
    import pkcs11

    loaded = pkcs11._loaded.get(MODULE)
    if loaded is not None and loaded.initialized:
        loaded.finalize()


@pytest.fixture(scope="module")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A token whose RSA seal key pair was generated on it (the key never left it)."""
    folder = tmp_path_factory.mktemp("seal-hsm")
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n"
        "log.level = ERROR\n"
    )
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    try:
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", TOKEN]
            + ["--so-pin", "87654321", "--pin", PIN],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            ["pkcs11-tool", "--module", MODULE, "--token-label", TOKEN, "--login"]
            + ["--pin", PIN, "--keypairgen", "--key-type", "rsa:2048"]
            + ["--label", KEY, "--id", "5e01"],
            check=True,
            capture_output=True,
        )
        _finalise()
        yield conf
    finally:
        if previous is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = previous
        _finalise()


def _app(instance: Path, database_url: str, **seal: Any) -> Flask:
    return create_app(app_config(instance, DATABASE_URL=database_url, **seal))


TOKEN_SETTINGS = {
    "SEAL_PKCS11_MODULE": MODULE,
    "SEAL_PKCS11_TOKEN_LABEL": TOKEN,
    "SEAL_PKCS11_KEY_LABEL": KEY,
}


@pytest.fixture
def token_app(
    request: pytest.FixtureRequest,
    softhsm: Path,
    instance: Path,
    database_url: str,
    tmp_path: Path,
) -> Iterator[Flask]:
    """The app with the seal token configured (PIN from a file) and its certificate
    registered for the root unit by the CLI command."""
    pin_file = tmp_path / "seal.pin"
    pin_file.write_text(PIN + "\n")
    app = _app(
        instance,
        database_url,
        **TOKEN_SETTINGS,
        SEAL_PKCS11_PIN_FILE=str(pin_file),
        **signature_level(request),
    )
    result = app.test_cli_runner().invoke(args=["seal-token", "register"])
    assert result.exit_code == 0, result.output
    assert "issued by the embedded CA" in result.output and KEY in result.output
    yield app
    app.extensions[EXTENSION_KEY].engine.dispose()


def _services(app: Flask) -> Services:
    svc: Services = app.extensions[EXTENSION_KEY]
    return svc


def _token_seal(services: Services) -> Certificate:
    with services.session_factory() as session:
        cert = session.scalars(
            select(Certificate)
            .where(Certificate.purpose == "seal", Certificate.encrypted_key_pem == "")
            .order_by(Certificate.id.desc())
        ).first()
    assert cert is not None
    return cert


def _ready_to_issue(api: Api) -> int:
    doc_id = upload_on(api)
    act(api, "truongban", doc_id, "approve")
    act(api, "vanthu", doc_id, "approve")
    act(api, "bithu", doc_id, "sign", {"passphrase": DEMO_PASSWORD})
    return doc_id


# The token's seal at B-LT: its own OCSP answer and chain in the DSS.
@pytest.mark.signature_level()
def test_issuance_signs_the_seal_on_the_token(
    token_app: Flask, tmp_path: Path, db_backend: str
) -> None:
    services = _services(token_app)
    seal_cert = _token_seal(services)
    api = Api(token_app)
    doc_id = _ready_to_issue(api)
    issued = act(api, "vanthu", doc_id, "issue")
    assert issued["document"]["state"] == "issued" and issued["number"] == 1
    data = api.get("chuyenvien", f"/documents/{doc_id}/file").data
    out = tmp_path / "issued.pdf"
    out.write_bytes(data)

    # pyHanko: the competent person's signature is intact, the seal is the token's.
    report = validate_pdf(out, services.trust, services.trust_services.revocation_source())
    assert report.bottom_line, report.to_dict()
    leader, seal = report.signatures
    assert leader.signer_name == "Lê Văn Đức" and leader.intact and leader.bottom_line
    assert seal.cert_fingerprint_sha256 == seal_cert.fingerprint
    assert seal.bottom_line and seal.pades_level == "B-LT"
    assert len(PdfFileReader(BytesIO(data)).embedded_signatures) == 2
    # The API's own validation and the audit say the same.
    validation = api.get("kiemtra", f"/documents/{doc_id}/validation").get_json()
    assert validation["verdict"] == "valid"
    with services.session_factory() as session:
        event = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == AuditAction.ISSUED, AuditEvent.object_id == str(doc_id))
            .order_by(AuditEvent.seq.desc())
        ).first()
        assert event is not None
        assert event.details["seal_key"] == "pkcs11"
        assert event.details["seal"] == seal_cert.fingerprint
        # The coverage ledger counts it like a stored seal: T2 signed and valid.
        entry = session.scalars(
            select(LedgerEntry).where(LedgerEntry.target == "T2", LedgerEntry.subject_id == doc_id)
        ).first()
        assert entry is not None and entry.state == "signed_valid", entry and entry.state
        code = session.scalars(
            select(VerificationCode.code).where(VerificationCode.document_id == doc_id)
        ).one()
    # The public verification page (reached through the seal's QR code) says valid.
    public = api.client.get(f"/api/v1/verify/{code}").get_json()
    assert public["status"] == "valid", public
    assert public["indication"]["indication"] == "TOTAL-PASSED"
    assert len(public["signatures"]) == 2

    if not INDEPENDENT_VERIFY.exists() or db_backend != "sqlite":
        return  # the same PDF bytes either way: the validators run once
    root = tmp_path / "root.pem"
    root.write_bytes(api.client.get("/pki/root.pem").data)
    verify_python = Path.home() / ".cache/independent_verify/venv/bin/python"
    cmd = [sys.executable, str(INDEPENDENT_VERIFY)]
    if verify_python.exists():
        cmd += ["--python", str(verify_python)]
    result = subprocess.run(
        [*cmd, str(out), str(root)], capture_output=True, text=True, timeout=600
    )
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pdfsig: valid" in result.stdout, result.stdout


def _counts(services: Services, doc_id: int) -> tuple[int, int, Any]:
    with services.session_factory() as session:
        revisions = session.scalar(
            select(func.count()).select_from(Revision).where(Revision.document_id == doc_id)
        )
        doc = session.get(Document, doc_id)
        assert doc is not None
        return int(revisions or 0), doc.number or 0, doc.state


@pytest.mark.parametrize(
    ("settings", "code", "phrase"),
    [
        ({**TOKEN_SETTINGS, "SEAL_PKCS11_PIN": "000000"}, "seal_token_pin", "mã PIN"),
        (
            {**TOKEN_SETTINGS, "SEAL_PKCS11_KEY_LABEL": "Khóa không có", "SEAL_PKCS11_PIN": PIN},
            "seal_token_missing",
            "Không tìm thấy thiết bị ký số hoặc khóa con dấu",
        ),
        (
            {**TOKEN_SETTINGS, "SEAL_PKCS11_TOKEN_LABEL": "VGCA khác", "SEAL_PKCS11_PIN": PIN},
            "seal_token_missing",
            "Không tìm thấy thiết bị ký số",
        ),
        ({}, "seal_token_not_configured", "chưa được cấu hình"),
    ],
    ids=["wrong-pin", "no-such-key", "no-such-token", "not-configured"],
)
def test_token_problems_are_refused_and_nothing_is_written(
    token_app: Flask,
    instance: Path,
    database_url: str,
    settings: dict[str, str],
    code: str,
    phrase: str,
) -> None:
    doc_id = _ready_to_issue(Api(token_app))
    before = _counts(_services(token_app), doc_id)
    broken = _app(instance, database_url, **settings)
    try:
        api = Api(broken)
        task = api.task_for("vanthu", doc_id)
        refused = api.post("vanthu", f"/tasks/{task['id']}/issue", json={})
        assert refused.status_code == 409, refused.get_json()
        body = refused.get_json()
        assert body["code"] == code and phrase in body["detail"], body
        assert _counts(_services(broken), doc_id) == before  # no number, no revision
    finally:
        _services(broken).engine.dispose()
    # With the token back, the same task issues, and takes number 1 (nothing was used).
    issued = act(Api(token_app), "vanthu", doc_id, "issue")
    assert issued["number"] == 1


def test_register_refuses_a_certificate_for_another_key(token_app: Flask, tmp_path: Path) -> None:
    services = _services(token_app)
    with services.session_factory() as session:
        stored = session.scalars(
            select(Certificate).where(
                Certificate.purpose == "seal", Certificate.encrypted_key_pem != ""
            )
        ).first()
        assert stored is not None
    other = tmp_path / "other.pem"
    other.write_text(stored.cert_pem)
    result = token_app.test_cli_runner().invoke(
        args=["seal-token", "register", "--cert", str(other)]
    )
    assert result.exit_code != 0
    assert "không phải của khóa trên thiết bị" in result.output
    # Importing the token's own certificate again: already registered.
    mine = tmp_path / "mine.pem"
    mine.write_text(_token_seal(services).cert_pem)
    again = token_app.test_cli_runner().invoke(args=["seal-token", "register", "--cert", str(mine)])
    assert again.exit_code != 0 and "đã được đăng ký" in again.output


def test_a_token_holding_another_certificate_is_refused(token_app: Flask) -> None:
    """The token's certificate must be the registered one: after a re-registration whose
    certificate is then revoked, the older registration is the active seal again, but the
    token now holds the newer certificate."""
    services = _services(token_app)
    first = _token_seal(services)
    again = token_app.test_cli_runner().invoke(args=["seal-token", "register"])
    assert again.exit_code == 0, again.output
    second = _token_seal(services)
    assert second.id != first.id
    with services.session_factory() as session:
        row = session.get(Certificate, second.id)
        assert row is not None
        row.status = "revoked"
        session.commit()
    api = Api(token_app)
    doc_id = _ready_to_issue(api)
    before = _counts(services, doc_id)
    task = api.task_for("vanthu", doc_id)
    refused = api.post("vanthu", f"/tasks/{task['id']}/issue", json={})
    assert refused.status_code == 409, refused.get_json()
    body = refused.get_json()
    assert body["code"] == "seal_token_other_certificate" and "seal-token" in body["detail"]
    assert _counts(services, doc_id) == before
