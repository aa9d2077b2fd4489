"""First-run initialisation, migrations, demo data, secrets at rest."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from cryptography import x509
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from storage.db import Base
from storage.models import ApiToken, AuditEvent, Certificate, Route, Unit, User
from storage.search_models import is_model_object
from tests.conftest import DEMO_PASSWORD, Api
from workflow.services import Services
from workflow.setup.bootstrap import initialise, is_loopback


# Migrations run their own DDL on each database.
@pytest.mark.both_databases
def test_migrations_give_exactly_the_models_schema(services: Services) -> None:
    with services.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": is_model_object})
        diffs = compare_metadata(context, Base.metadata)
    assert diffs == []


def test_demo_organisation_is_seeded_once(services: Services) -> None:
    with services.session_factory() as session:
        before = session.scalars(select(User)).all()
        units = {u.code: u for u in session.scalars(select(Unit))}
    assert {u.username for u in before} == {
        "chuyenvien",
        "truongban",
        "bithu",
        "vanthu",
        "kiemtra",
        "admin",
        "chanhvp",
        "vanthugd",
        "bithugd",
    }
    assert len([u for u in units.values() if u.kind == "grassroots"]) == 3
    assert (
        units["TT"].name == "Thường trực Đảng ủy Khối" and units["TT"].parent_id == units["DUK"].id
    )
    report = initialise(services)
    assert not report.seeded
    with services.session_factory() as session:
        assert len(session.scalars(select(User)).all()) == len(before)
        assert len(session.scalars(select(Route)).all()) == 4  # with the incoming route


def test_passwords_are_argon2_and_keys_encrypted(services: Services) -> None:
    with services.session_factory() as session:
        users = session.scalars(select(User)).all()
        cert = session.scalars(select(Certificate).where(Certificate.purpose == "personal")).one()
    assert all(u.password_hash.startswith("$argon2id$") for u in users)
    assert all(DEMO_PASSWORD not in u.password_hash for u in users)
    assert "BEGIN ENCRYPTED PRIVATE KEY" in cert.encrypted_key_pem
    parsed = x509.load_pem_x509_certificate(cert.cert_pem.encode())
    assert parsed.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Lê Văn Đức"
    usage = parsed.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment


def test_ca_keys_are_encrypted_at_rest(instance: Path) -> None:
    for key in (instance / "pki").glob("*.key.pem"):
        assert b"ENCRYPTED PRIVATE KEY" in key.read_bytes()
        assert key.stat().st_mode & 0o077 == 0


def test_api_tokens_are_stored_hashed(api: Api, services: Services) -> None:
    token = api.login("kiemtra")
    with services.session_factory() as session:
        stored = session.scalars(select(ApiToken)).one()
    assert token not in stored.token_hash and len(stored.token_hash) == 64


def test_secrets_never_reach_the_audit_log(api: Api, services: Services) -> None:
    api.login("kiemtra")
    api.client.post("/api/v1/auth/token", json={"username": "kiemtra", "password": "wrong-pw-123"})
    with services.session_factory() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    dump = repr([(e.action, e.details) for e in events])
    assert DEMO_PASSWORD not in dump and "wrong-pw-123" not in dump
    assert api.tokens["kiemtra"] not in dump


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.10")  # noqa: S104
