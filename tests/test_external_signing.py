"""Signatures made off the server: prepare → the token signs → complete (raw signature or
CMS), the plugin upload, refusals, and the reference client against a real gunicorn."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from flask import Flask
from sqlalchemy import select, update

import workflow.signatures.external  # noqa: F401 - adds the routes to the /api/v1 blueprint
from signing.keys import LoadedKeySigner, load_signer
from signing.pades import sign_pdf_file
from signing.profiles import SigningProfile
from storage.external_models import ExternalSigningSession
from storage.models import Certificate, Revision, Signature, Task
from storage.types import utcnow
from tests import servers
from tests.conftest import DEMO_PASSWORD, REPO, Api
from workflow.services import Services

KEY_PASSPHRASE = "mat-khau-token-2026"


@dataclass(frozen=True)
class TokenKey:
    """A key and certificate as they would sit on a USB token."""

    cert_pem: bytes
    key_pem: bytes
    """Encrypted PKCS#8 PEM (``KEY_PASSPHRASE``)."""

    def private_key(self) -> rsa.RSAPrivateKey:
        key = serialization.load_pem_private_key(self.key_pem, KEY_PASSPHRASE.encode())
        assert isinstance(key, rsa.RSAPrivateKey)
        return key

    def signer(self, services: Services) -> LoadedKeySigner:
        trust = services.trust
        return load_signer(
            self.cert_pem,
            self.key_pem,
            KEY_PASSPHRASE,
            trust.other_certs_pem + trust.trust_roots_pem,
        )


def issue_token_key(services: Services, full_name: str) -> TokenKey:
    """A certificate from the embedded CA whose key the server never stores."""
    issued = services.trust_services.pki.issue_signing_certificate(
        full_name=full_name,
        title="Bí thư",
        unit="Thường trực",
        organisation="Đảng ủy Khối",
        passphrase=KEY_PASSPHRASE,
    )
    return TokenKey(issued.cert_pem, issued.encrypted_key_pem)


def register(api: Api, username: str, key: TokenKey) -> Any:
    return api.post(
        "admin", f"/users/{username}/certificates", json={"certificate_pem": key.cert_pem.decode()}
    )


@pytest.fixture
def bithu_key(api: Api, services: Services) -> TokenKey:
    """bithu's token certificate, registered by the administrator."""
    key = issue_token_key(services, "Lê Văn Đức")
    response = register(api, "bithu", key)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["purpose"] == "external"
    return key


@pytest.fixture
def sign_task(api: Api, submitted_document: Callable[..., int]) -> tuple[int, int]:
    """(document id, bithu's sign task id) after truongban's approval."""
    doc_id = submitted_document()
    task = api.task_for("truongban", doc_id)
    assert api.post("truongban", f"/tasks/{task['id']}/approve", json={}).status_code == 200
    task = api.task_for("bithu", doc_id)
    assert task["action"] == "sign"
    return doc_id, task["id"]


def prepare(api: Api, task_id: int, key: TokenKey | None, **extra: Any) -> Any:
    body: dict[str, Any] = dict(extra)
    if key is not None:
        body["certificate_pem"] = key.cert_pem.decode()
    return api.post("bithu", f"/tasks/{task_id}/external/prepare", json=body)


def raw_signature(key: TokenKey, data_b64: str) -> str:
    data = base64.b64decode(data_b64)
    signature = key.private_key().sign(data, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def state_of(services: Services, doc_id: int) -> tuple[int, int, str]:
    """(revisions, signatures, bithu's task state) of a document."""
    with services.session_factory() as s:
        revisions = len(s.scalars(select(Revision).where(Revision.document_id == doc_id)).all())
        signatures = len(s.scalars(select(Signature).where(Signature.document_id == doc_id)).all())
        task = s.scalars(
            select(Task).where(Task.document_id == doc_id, Task.action == "sign")
        ).first()
        return revisions, signatures, task.state if task else ""


# About the level the server completes an external signature to.
@pytest.mark.signature_level()
def test_raw_signature_round_trip(
    api: Api, services: Services, bithu_key: TokenKey, sign_task: tuple[int, int]
) -> None:
    doc_id, task_id = sign_task
    prepared = prepare(api, task_id, bithu_key)
    assert prepared.status_code == 201, prepared.get_json()
    body = prepared.get_json()
    assert body["digest_algorithm"] == "sha256"
    assert body["signature_mechanism"] == "sha256_rsa"
    assert body["expires_at"].endswith("+07:00")
    # The data to sign is the DER SET of signed attributes, with the document digest.
    attrs = cms.CMSAttributes.load(base64.b64decode(body["data_to_sign_b64"]))
    assert "message_digest" in {a["type"].native for a in attrs}
    sid = body["session_id"]
    assert api.get("bithu", f"/external/{sid}/document").data.startswith(b"%PDF-")

    done = api.post(
        "bithu",
        f"/external/{sid}/complete",
        json={"signature_b64": raw_signature(bithu_key, body["data_to_sign_b64"])},
    )
    assert done.status_code == 200, done.get_json()
    result = done.get_json()
    assert result["document"]["state"] == "signed"
    assert result["validation"]["verdict"] == "valid"
    assert result["signature"]["level"] == "B-LT"  # the policy's default level
    (report,) = [
        s for s in result["validation"]["signatures"] if s["field_name"] == body["field_name"]
    ]
    assert report["signer_name"] == "Lê Văn Đức" and report["pades_level"] == "B-LT"
    with services.session_factory() as s:
        sig = s.scalars(select(Signature).where(Signature.document_id == doc_id)).one()
        assert sig.certificate.purpose == "external"
        assert sig.certificate.encrypted_key_pem == ""

    # Single-use: the session cannot be completed again.
    again = api.post("bithu", f"/external/{sid}/complete", json={"signature_b64": "AAAA"})
    assert again.status_code == 410
    assert api.get("bithu", f"/external/{sid}").get_json()["outcome"] == "signed"
    history = api.get("chuyenvien", f"/documents/{doc_id}").get_json()["history"]
    assert "document:signed" in [h["action"] for h in history]


# About the level the server completes an external signature to.
@pytest.mark.signature_level()
def test_cms_round_trip_and_missing_timestamp_added(
    api: Api, services: Services, bithu_key: TokenKey, sign_task: tuple[int, int]
) -> None:
    _doc_id, task_id = sign_task
    body = prepare(api, task_id, bithu_key).get_json()
    attrs = cms.CMSAttributes.load(base64.b64decode(body["data_to_sign_b64"]))
    content = asyncio.run(
        bithu_key.signer(services).async_sign_prescribed_attributes("sha256", attrs)
    )
    done = api.post(
        "bithu",
        f"/external/{body['session_id']}/complete",
        json={"cms_b64": base64.b64encode(content.dump()).decode()},
    )
    assert done.status_code == 200, done.get_json()
    result = done.get_json()
    assert result["validation"]["verdict"] == "valid"
    assert result["signature"]["level"] == "B-LT"  # the server added the signature timestamp


def test_someone_elses_trusted_certificate_is_refused(
    api: Api, services: Services, bithu_key: TokenKey, sign_task: tuple[int, int]
) -> None:
    doc_id, task_id = sign_task
    other = issue_token_key(services, "Nguyễn Văn Khác")
    assert register(api, "truongban", other).status_code == 201
    before = state_of(services, doc_id)

    # Announcing another person's certificate: refused at prepare.
    refused = prepare(api, task_id, other)
    assert refused.status_code == 403
    assert refused.get_json()["code"] == "certificate_not_registered"

    # A CMS made with another person's key (chaining to our trusted root): refused.
    body = prepare(api, task_id, bithu_key).get_json()
    attrs = cms.CMSAttributes.load(base64.b64decode(body["data_to_sign_b64"]))
    content = asyncio.run(other.signer(services).async_sign_prescribed_attributes("sha256", attrs))
    wrong = api.post(
        "bithu",
        f"/external/{body['session_id']}/complete",
        json={"cms_b64": base64.b64encode(content.dump()).decode()},
    )
    assert wrong.status_code == 403, wrong.get_json()
    assert wrong.get_json()["code"] == "wrong_signer"

    # A raw signature by another key: refused, and the session is spent.
    body = prepare(api, task_id, bithu_key).get_json()
    bad = api.post(
        "bithu",
        f"/external/{body['session_id']}/complete",
        json={"signature_b64": raw_signature(other, body["data_to_sign_b64"])},
    )
    assert bad.status_code == 422 and bad.get_json()["code"] == "bad_signature"
    retry = api.post(
        "bithu",
        f"/external/{body['session_id']}/complete",
        json={"signature_b64": raw_signature(bithu_key, body["data_to_sign_b64"])},
    )
    assert retry.status_code == 410
    assert state_of(services, doc_id) == before  # nothing half-stored
    assert before[2] == "open"


@pytest.mark.usefixtures("clock")
def test_expired_and_foreign_sessions(
    api: Api, services: Services, bithu_key: TokenKey, sign_task: tuple[int, int]
) -> None:
    _doc_id, task_id = sign_task
    body = prepare(api, task_id, bithu_key).get_json()
    sid = body["session_id"]
    signature = raw_signature(bithu_key, body["data_to_sign_b64"])
    # Another user cannot see or use the session.
    assert api.post("truongban", f"/external/{sid}/complete", json={}).status_code == 422
    foreign = api.post("truongban", f"/external/{sid}/complete", json={"signature_b64": signature})
    assert foreign.status_code == 404
    with services.session_factory() as s:
        s.execute(update(ExternalSigningSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        s.commit()
    expired = api.post("bithu", f"/external/{sid}/complete", json={"signature_b64": signature})
    assert expired.status_code == 410
    assert "hết hạn" in expired.get_json()["detail"]
    assert (
        api.post("bithu", "/external/nonsense/complete", json={"cms_b64": "AA=="}).status_code
        == 404
    )


def test_bad_input_is_refused_before_the_session_is_spent(
    api: Api, bithu_key: TokenKey, sign_task: tuple[int, int]
) -> None:
    _doc_id, task_id = sign_task
    body = prepare(api, task_id, bithu_key).get_json()
    sid = body["session_id"]
    for payload in ({}, {"signature_b64": "%%%"}, {"signature_b64": "AA==", "cms_b64": "AA=="}):
        response = api.post("bithu", f"/external/{sid}/complete", json=payload)
        assert response.status_code == 422, payload
    garbage = api.post("bithu", f"/external/{sid}/complete", json={"cms_b64": "MAMCAQA="})
    assert garbage.status_code == 422 and garbage.get_json()["code"] == "bad_cms"
    # A plugin upload against a signature session is the wrong mode (409), not consumed.
    body = prepare(api, task_id, bithu_key).get_json()
    upload = api.post(
        "bithu",
        f"/external/{body['session_id']}/upload",
        data={"file": (BytesIO(b"%PDF-1.7\n%%EOF\n"), "x.pdf")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 409 and upload.get_json()["code"] == "wrong_mode"


def plugin_sign(
    services: Services, key: TokenKey, pdf: bytes, tmp: Path, field: str, *, timestamp: bool = True
) -> bytes:
    """What a local token plugin does: sign the PDF it was handed, incrementally (with a
    signature timestamp unless ``timestamp`` is False: PAdES B-B)."""
    src, out = tmp / f"in-{field}.pdf", tmp / f"out-{field}.pdf"
    src.write_bytes(pdf)
    sign_pdf_file(
        src,
        out,
        key.signer(services),
        SigningProfile(field_name=field),
        timestamper=services.trust_services.timestamper if timestamp else None,
    )
    return out.read_bytes()


def upload(api: Api, sid: str, data: bytes) -> Any:
    return api.post(
        "bithu",
        f"/external/{sid}/upload",
        data={"file": (BytesIO(data), "da-ky.pdf")},
        content_type="multipart/form-data",
    )


# About the level the server completes an external signature to.
@pytest.mark.signature_level()
def test_plugin_upload(
    api: Api,
    services: Services,
    bithu_key: TokenKey,
    sign_task: tuple[int, int],
    tmp_path: Path,
) -> None:
    doc_id, task_id = sign_task
    before = state_of(services, doc_id)

    def session() -> tuple[str, bytes]:
        body = prepare(api, task_id, None, mode="plugin").get_json()
        assert body["mode"] == "plugin" and "data_to_sign_b64" not in body
        return body["session_id"], api.get("bithu", body["document_url"][len("/api/v1") :]).data

    # Not the prepared bytes: one byte of the original changed before signing.
    sid, pdf = session()
    tampered = bytearray(pdf)
    tampered[pdf.index(b"/Type") + 1] ^= 0x20
    refused = upload(api, sid, plugin_sign(services, bithu_key, bytes(tampered), tmp_path, "A"))
    assert refused.status_code == 422 and refused.get_json()["code"] == "not_appended"

    # Two signatures appended: refused.
    sid, pdf = session()
    twice = plugin_sign(
        services, bithu_key, plugin_sign(services, bithu_key, pdf, tmp_path, "B"), tmp_path, "C"
    )
    refused = upload(api, sid, twice)
    assert refused.status_code == 422 and refused.get_json()["code"] == "no_new_signature"

    # Signed by someone else's (trusted) key: refused.
    other = issue_token_key(services, "Nguyễn Văn Khác")
    sid, pdf = session()
    refused = upload(api, sid, plugin_sign(services, other, pdf, tmp_path, "D"))
    assert refused.status_code == 403 and refused.get_json()["code"] == "wrong_signer"
    assert state_of(services, doc_id) == before

    # B-B (no signature timestamp) where the document type's policy asks for B-LT: refused.
    sid, pdf = session()
    refused = upload(
        api, sid, plugin_sign(services, bithu_key, pdf, tmp_path, "F", timestamp=False)
    )
    assert refused.status_code == 422 and refused.get_json()["code"] == "level_too_low"
    assert "B-LT" in refused.get_json()["detail"]
    assert state_of(services, doc_id) == before

    # The genuine article.
    sid, pdf = session()
    done = upload(api, sid, plugin_sign(services, bithu_key, pdf, tmp_path, "E"))
    assert done.status_code == 200, done.get_json()
    result = done.get_json()
    assert result["document"]["state"] == "signed"
    assert result["validation"]["verdict"] == "valid"
    assert result["signature"]["level"] == "B-LT"
    assert upload(api, sid, pdf).status_code == 410


def test_certificate_registration_rules(api: Api, services: Services) -> None:
    key = issue_token_key(services, "Lê Văn Đức")
    body = {"certificate_pem": key.cert_pem.decode()}
    assert api.post("bithu", "/users/bithu/certificates", json=body).status_code == 403
    assert api.post("admin", "/users/khong-co/certificates", json=body).status_code == 404
    assert api.post("admin", "/users/bithu/certificates", json={}).status_code == 422
    bad = api.post("admin", "/users/bithu/certificates", json={"certificate_pem": "rác"})
    assert bad.status_code == 422 and bad.get_json()["code"] == "bad_certificate"
    assert register(api, "bithu", key).status_code == 201
    assert register(api, "bithu", key).status_code == 409
    # A server-held personal certificate cannot be registered as a token certificate.
    with services.session_factory() as s:
        personal = s.scalars(select(Certificate).where(Certificate.purpose == "personal")).first()
        assert personal is not None
        pem = personal.cert_pem
    assert (
        api.post("admin", "/users/bithu/certificates", json={"certificate_pem": pem}).status_code
        == 409
    )
    # A self-signed certificate does not chain to our root.
    untrusted = api.post(
        "admin", "/users/bithu/certificates", json={"certificate_pem": _self_signed_pem()}
    )
    assert untrusted.status_code == 422 and untrusted.get_json()["code"] == "untrusted"


def _self_signed_pem() -> str:
    from datetime import UTC, datetime

    from cryptography import x509
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tự ký")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False), True
        )
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


# Migrations run their own DDL on each database.
@pytest.mark.both_databases
def test_migration_matches_the_model(services: Services) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from storage.db import Base

    with services.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diffs if "external_signing" in repr(d)] == []


# --- the reference client against a real gunicorn -------------------------------------


def wsgi_app() -> Flask:
    """gunicorn's app factory for these tests (the routes are imported above)."""
    from workflow import create_app

    return create_app()


@pytest.fixture
def server(instance: Path, app: Flask) -> Iterator[str]:
    """gunicorn (2 workers) serving this test's instance, with the external routes."""
    with servers.gunicorn(
        instance, workers=2, app="tests.test_external_signing:wsgi_app()"
    ) as base:
        yield base


def run_client(base: str, task_id: int, *args: str, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [
            sys.executable,
            str(REPO / "clients" / "trinhky_sign.py"),
            "--server",
            base,
            "--user",
            "bithu",
            "--password",
            DEMO_PASSWORD,
            "--task",
            str(task_id),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@pytest.mark.slow
def test_reference_client_with_a_p12_against_gunicorn(
    server: str,
    api: Api,
    services: Services,
    bithu_key: TokenKey,
    sign_task: tuple[int, int],
    tmp_path: Path,
) -> None:
    doc_id, task_id = sign_task
    p12 = tmp_path / "bithu.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"bithu",
            bithu_key.private_key(),
            __import__("cryptography.x509", fromlist=["x"]).load_pem_x509_certificate(
                bithu_key.cert_pem
            ),
            None,
            serialization.BestAvailableEncryption(b"p12-pass"),
        )
    )
    wrong = run_client(server, task_id, "--p12", str(p12), "--p12-password", "sai")
    assert wrong.returncode != 0 and "p12" in wrong.stderr.lower()
    result = run_client(server, task_id, "--p12", str(p12), "--p12-password", "p12-pass")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stdout and "Lê Văn Đức" in result.stdout
    assert api.get("chuyenvien", f"/documents/{doc_id}").get_json()["state"] == "signed"
    again = run_client(server, task_id, "--p12", str(p12), "--p12-password", "p12-pass")
    assert again.returncode != 0 and "409" in again.stderr
