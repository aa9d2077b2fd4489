"""Tests of the audit log: append-only triggers, chain verification against tampering,
checkpoints (with an RFC 3161 token from pyHanko's DummyTimeStamper), API, page, CLI."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from flask import Flask
from flask.testing import FlaskClient
from pyhanko.sign.timestamps import DummyTimeStamper
from sqlalchemy import delete, exc, select, text, update
from sqlalchemy.engine import Connection

from storage import audit
from storage.audit import AuditAction, ChainAnchor, verify_chain
from storage.audit_models import AuditCheckpoint
from storage.checkpoints import checkpoint_digest, create_checkpoint, token_info
from storage.models import AuditEvent, AuditHead
from tests.conftest import DEMO_PASSWORD, Api
from workflow.audit.web import TIMESTAMPER_KEY
from workflow.services import Services

EVENTS = AuditEvent.__table__
CHECKPOINTS = AuditCheckpoint.__table__
HEAD = AuditHead.__table__

# The append-only triggers are each database's own DDL, and the chain is read in SQL: both.
pytestmark = pytest.mark.both_databases


# --- helpers --------------------------------------------------------------------------


def add_entries(services: Services, n: int) -> int:
    """Append ``n`` entries; :returns: the head seq."""
    with services.session_factory() as session:
        for i in range(n):
            event = audit.append(
                session,
                AuditAction.VIEWED,
                actor_id=None,
                object_type="document",
                object_id=i,
                details={"i": i, "ghi chú": "kiểm tra"},
            )
        session.commit()
        return event.seq


def head_seq(services: Services) -> int:
    with services.session_factory() as session:
        return int(session.scalar(select(AuditHead.seq)) or 0)


@contextmanager
def tampering(services: Services) -> Iterator[Connection]:
    """An attacker with database superuser rights: the append-only triggers are off for
    one transaction (committed at the end), then back on."""
    tables = ("audit_events", "audit_checkpoints")
    with services.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            for table in tables:
                conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            yield conn
            for table in tables:
                conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        else:
            triggers = conn.execute(
                text(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                    "AND tbl_name IN ('audit_events', 'audit_checkpoints')"
                )
            ).all()
            assert len(triggers) == 4
            for name, _sql in triggers:
                conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
            yield conn
            for _name, sql in triggers:
                conn.exec_driver_sql(sql)


def row(conn: Connection, seq: int) -> dict[str, Any]:
    return dict(conn.execute(select(EVENTS).where(EVENTS.c.seq == seq)).mappings().one())


def rehash(values: dict[str, Any]) -> str:
    fields = ("seq", "at", "actor_id", "action", "object_type", "object_id", "details")
    return audit.hash_values(*(values[f] for f in fields), values["prev_hash"])


def rewrite_from(conn: Connection, seq: int, last: int) -> None:
    """Re-chain entries ``seq..last`` after an edit, and move the head (a careful attacker)."""
    prev = row(conn, seq - 1)["hash"]
    for s in range(seq, last + 1):
        values = row(conn, s)
        values["prev_hash"] = prev
        prev = rehash(values)
        conn.execute(
            update(EVENTS).where(EVENTS.c.seq == s).values(prev_hash=values["prev_hash"], hash=prev)
        )
    conn.execute(update(HEAD).where(HEAD.c.id == 1).values(seq=last, hash=prev))


def verify(services: Services, **kw: Any) -> audit.ChainReport:
    with services.session_factory() as session:
        return verify_chain(session, **kw)


def is_append_only_error(error: exc.DBAPIError) -> bool:
    return "append-only" in str(error.orig)


# --- append-only ----------------------------------------------------------------------


def test_orm_update_of_an_entry_is_refused(services: Services) -> None:
    add_entries(services, 1)
    with services.session_factory() as session:
        event = session.get(AuditEvent, 1)
        assert event is not None
        event.details = {"forged": True}
        with pytest.raises(exc.DBAPIError) as caught:
            session.commit()
    assert is_append_only_error(caught.value)
    assert verify(services).ok


def test_delete_of_an_entry_is_refused(services: Services) -> None:
    last = add_entries(services, 2)
    with services.session_factory() as session:
        with pytest.raises(exc.DBAPIError) as caught:
            session.execute(delete(AuditEvent).where(AuditEvent.seq == last))
    assert is_append_only_error(caught.value)
    with services.session_factory() as session:
        event = session.get(AuditEvent, last)
        assert event is not None
        session.delete(event)
        with pytest.raises(exc.DBAPIError) as caught:
            session.commit()
    assert is_append_only_error(caught.value)
    assert verify(services).entries == last


def test_checkpoints_are_append_only_too(services: Services) -> None:
    with services.session_factory() as session:
        create_checkpoint(session)
        session.commit()
        with pytest.raises(exc.DBAPIError) as caught:
            session.execute(update(AuditCheckpoint).values(seq=0))
    assert is_append_only_error(caught.value)


def test_truncate_is_refused_on_postgresql(services: Services) -> None:
    if services.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE (its DELETE fires the trigger, tested above)")
    with services.engine.connect() as conn, pytest.raises(exc.DBAPIError) as caught:
        conn.exec_driver_sql("TRUNCATE audit_events CASCADE")
    assert is_append_only_error(caught.value)


# --- hashing and verification ---------------------------------------------------------


def test_hash_format_is_unchanged() -> None:
    """Existing logs must keep verifying: the hashed form is json.dumps' canonical one."""
    values = {
        "seq": 7,
        "at": datetime(2026, 11, 27, 3, 4, 5, 678, tzinfo=UTC),
        "actor_id": 3,
        "action": "document:signed",
        "object_type": "document",
        "object_id": "12",
        "details": {"z": 1, "a": ["Đảng ủy", None]},
        "prev_hash": "ab" * 32,
    }
    raw = json.dumps(
        dict(values, at=values["at"].isoformat()),
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    assert rehash(values) == hashlib.sha256(raw.encode()).hexdigest()


def test_intact_chain_verifies(services: Services) -> None:
    last = add_entries(services, 5)
    report = verify(services)
    assert (report.ok, report.entries, report.first_broken) == (True, last, None)
    assert report.checkpoints_checked == 0 and report.checkpoints_ok


def test_changed_row_is_the_first_broken(services: Services) -> None:
    last = add_entries(services, 6)
    target = last - 3
    with tampering(services) as conn:
        conn.execute(update(EVENTS).where(EVENTS.c.seq == target).values(object_id="999"))
    report = verify(services)
    assert (report.ok, report.first_broken, report.problem) == (False, target, "altered")
    assert report.entries == target - 1


def test_changed_and_rehashed_row_is_the_first_broken(services: Services) -> None:
    last = add_entries(services, 6)
    target = last - 3
    with tampering(services) as conn:
        values = row(conn, target)
        values["details"] = {"forged": True}
        conn.execute(
            update(EVENTS)
            .where(EVENTS.c.seq == target)
            .values(details=values["details"], hash=rehash(values))
        )
    report = verify(services)
    assert (report.first_broken, report.problem) == (target, "rehashed")
    assert report.entries == target - 1


def test_deleted_row_is_the_first_broken(services: Services) -> None:
    last = add_entries(services, 6)
    target = last - 2
    with tampering(services) as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.seq == target))
    report = verify(services)
    assert (report.ok, report.first_broken, report.reason) == (False, target, "missing entry")


def test_deleted_last_row_is_found_by_the_head(services: Services) -> None:
    last = add_entries(services, 3)
    with tampering(services) as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.seq == last))
    report = verify(services)
    assert (report.first_broken, report.problem) == (last, "missing")


def test_inserted_row_is_the_first_broken(services: Services) -> None:
    last = add_entries(services, 6)
    target = last - 3
    with tampering(services) as conn:
        for s in range(last, target - 1, -1):  # make room: seq is the primary key
            conn.execute(update(EVENTS).where(EVENTS.c.seq == s).values(seq=s + 1))
        forged = dict(row(conn, target - 1), seq=target, action="document:signed")
        forged["prev_hash"] = forged["hash"]
        forged["hash"] = rehash(forged)
        conn.execute(EVENTS.insert().values(**forged))
    report = verify(services)
    assert (report.ok, report.first_broken, report.problem) == (False, target, "inserted")
    assert report.entries == target - 1


def test_appended_row_without_the_head_is_found(services: Services) -> None:
    last = add_entries(services, 2)
    with tampering(services) as conn:
        forged = dict(row(conn, last), seq=last + 1)
        forged["prev_hash"] = forged["hash"]
        forged["hash"] = rehash(forged)
        conn.execute(EVENTS.insert().values(**forged))
    report = verify(services)
    assert (report.first_broken, report.problem) == (last + 1, "inserted")


def test_reordered_rows_are_the_first_broken(services: Services) -> None:
    last = add_entries(services, 8)
    first, second = last - 5, last - 2
    with tampering(services) as conn:
        a, b = row(conn, first), row(conn, second)
        contents = [c for c in a if c != "seq"]
        # Swap everything but the seq; park one hash first (hash is UNIQUE).
        conn.execute(
            update(EVENTS)
            .where(EVENTS.c.seq == second)
            .values({**{c: a[c] for c in contents}, "hash": "0" * 64})
        )
        conn.execute(
            update(EVENTS).where(EVENTS.c.seq == first).values(**{c: b[c] for c in contents})
        )
        conn.execute(update(EVENTS).where(EVENTS.c.seq == second).values(hash=a["hash"]))
    report = verify(services)
    assert (report.ok, report.first_broken, report.problem) == (False, first, "reordered")
    assert str(second) in (report.reason or "")


# --- checkpoints ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def timestamper() -> Callable[[bytes], bytes]:
    """digest -> RFC 3161 token DER, from pyHanko's DummyTimeStamper (no network)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TrinhKy Test TSA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(key, hashes.SHA256())
    )
    stamper = DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        tsa_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ),
    )

    def stamp(digest: bytes) -> bytes:
        token: bytes = asyncio.run(stamper.async_timestamp(digest, "sha256")).dump()
        return token

    return stamp


def test_checkpoint_records_the_head_with_a_timestamp_token(
    services: Services, timestamper: Callable[[bytes], bytes]
) -> None:
    last = add_entries(services, 3)
    with services.session_factory() as session:
        checkpoint = create_checkpoint(session, timestamper)
        session.commit()
        head = session.get(AuditHead, 1)
        assert head is not None
    assert (checkpoint.seq, checkpoint.head_hash) == (last, head.hash)
    assert checkpoint.timestamp_token is not None
    info = token_info(checkpoint.timestamp_token)
    assert info is not None
    assert info.hash_algorithm == "sha256"
    assert info.imprint == checkpoint_digest(head.hash)
    assert checkpoint.tsa_name and "TrinhKy Test TSA" in checkpoint.tsa_name
    report = verify(services)
    assert report.ok and (report.checkpoints_checked, report.checkpoints_ok) == (1, True)


def test_checkpoint_without_timestamper(services: Services) -> None:
    add_entries(services, 1)
    with services.session_factory() as session:
        checkpoint = create_checkpoint(session)
        session.commit()
    assert checkpoint.timestamp_token is None and checkpoint.tsa_name is None


def test_history_rewritten_after_a_checkpoint_is_detected(services: Services) -> None:
    mid = add_entries(services, 4)
    with services.session_factory() as session:
        create_checkpoint(session)
        session.commit()
    last = add_entries(services, 4)
    target = mid - 2
    with tampering(services) as conn:
        conn.execute(update(EVENTS).where(EVENTS.c.seq == target).values(object_id="999"))
        rewrite_from(conn, target, last)
    report = verify(services)
    assert (report.ok, report.first_broken, report.problem) == (False, mid, "checkpoint")
    assert (report.checkpoints_checked, report.checkpoints_ok) == (1, False)
    with tampering(services) as conn:  # without the checkpoint the rewrite would pass
        conn.execute(delete(CHECKPOINTS))
    assert verify(services).ok


def test_rewritten_checkpoint_is_caught_by_its_token(
    services: Services, timestamper: Callable[[bytes], bytes]
) -> None:
    mid = add_entries(services, 4)
    with services.session_factory() as session:
        create_checkpoint(session, timestamper)
        session.commit()
    last = add_entries(services, 2)
    with tampering(services) as conn:
        conn.execute(update(EVENTS).where(EVENTS.c.seq == 2).values(object_id="999"))
        rewrite_from(conn, 2, last)
        new_hash = row(conn, mid)["hash"]
        conn.execute(update(CHECKPOINTS).values(head_hash=new_hash))
    report = verify(services)
    assert (report.first_broken, report.problem, report.checkpoints_ok) == (
        mid,
        "checkpoint",
        False,
    )
    assert "timestamp token" in (report.reason or "")


def test_checkpoint_beyond_a_truncated_log_is_detected(services: Services) -> None:
    last = add_entries(services, 3)
    with services.session_factory() as session:
        create_checkpoint(session)
        session.commit()
    with tampering(services) as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.seq == last))
        prev = row(conn, last - 1)
        conn.execute(update(HEAD).values(seq=last - 1, hash=prev["hash"]))
    report = verify(services)
    assert (report.first_broken, report.problem) == (last, "checkpoint")


def test_verify_from_the_latest_checkpoint(services: Services) -> None:
    mid = add_entries(services, 4)
    with services.session_factory() as session:
        checkpoint = create_checkpoint(session)
        session.commit()
    last = add_entries(services, 3)
    report = verify(services, from_checkpoint=checkpoint)
    assert (report.ok, report.entries, report.start_seq) == (True, last - mid, mid)
    assert report.checkpoints_checked == 1
    anchor = ChainAnchor(checkpoint.seq, checkpoint.head_hash)
    with tampering(services) as conn:  # before the checkpoint: not examined from there
        conn.execute(update(EVENTS).where(EVENTS.c.seq == 1).values(object_id="999"))
    assert verify(services, from_checkpoint=anchor).ok
    assert verify(services).first_broken == 1
    with tampering(services) as conn:  # the anchored entry itself
        original = row(conn, mid)["object_id"]
        conn.execute(update(EVENTS).where(EVENTS.c.seq == mid).values(object_id="999"))
    report = verify(services, from_checkpoint=anchor)
    assert (report.ok, report.first_broken, report.problem) == (False, mid, "checkpoint")
    with tampering(services) as conn:  # after the checkpoint
        conn.execute(update(EVENTS).where(EVENTS.c.seq == mid).values(object_id=original))
        conn.execute(delete(EVENTS).where(EVENTS.c.seq == mid + 1))
    report = verify(services, from_checkpoint=anchor)
    assert (report.first_broken, report.problem) == (mid + 1, "missing")


def test_small_batches_give_the_same_answer(services: Services) -> None:
    last = add_entries(services, 7)
    assert verify(services, batch=2).entries == last
    with tampering(services) as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.seq == 5))
    assert verify(services, batch=2).first_broken == 5


# --- API ------------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["kiemtra", "admin"])
def test_api_verify_for_auditors(api: Api, services: Services, user: str) -> None:
    response = api.get(user, "/audit/verify")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == {"ok", "entries", "first_broken", "reason", "head_hash", "checkpoints"}
    assert body["ok"] is True and body["first_broken"] is None and body["reason"] is None
    assert body["entries"] == head_seq(services)
    assert body["checkpoints"] == {"checked": 0, "ok": True}


def test_api_verify_reports_tampering(api: Api, services: Services) -> None:
    api.login("kiemtra")
    with tampering(services) as conn:
        conn.execute(update(EVENTS).where(EVENTS.c.seq == 2).values(object_id="999"))
    body = api.get("kiemtra", "/audit/verify").get_json()
    assert (body["ok"], body["first_broken"], body["entries"]) == (False, 2, 1)
    assert body["reason"] == "entry altered"


def test_api_verify_from_latest_checkpoint(api: Api, services: Services) -> None:
    with services.session_factory() as session:
        create_checkpoint(session)
        session.commit()
    body = api.get("kiemtra", "/audit/verify?from=latest").get_json()
    assert body["ok"] and body["checkpoints"] == {"checked": 1, "ok": True}
    assert api.get("kiemtra", "/audit/verify?from=nowhere").status_code == 422


def test_api_audit_is_for_auditors_only(api: Api) -> None:
    for path in ("/audit/verify", "/audit/events"):
        response = api.get("chuyenvien", path)
        assert response.status_code == 403
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["status"] == 403
    anonymous = api.client.get("/api/v1/audit/verify")
    assert anonymous.status_code == 401
    assert anonymous.mimetype == "application/problem+json"


def test_api_events_pages_through_the_log(api: Api, services: Services) -> None:
    last = add_entries(services, 5)
    first = api.get("kiemtra", "/audit/events?limit=2").get_json()
    assert [e["seq"] for e in first["events"]] == [1, 2]
    assert first["next_after"] == 2
    rest = api.get("kiemtra", f"/audit/events?after={last - 2}&limit=10").get_json()
    seqs = [e["seq"] for e in rest["events"]]
    assert seqs[:2] == [last - 1, last] and rest["next_after"] is None
    event = rest["events"][1]
    assert event["details"] == {"i": 4, "ghi chú": "kiểm tra"}
    assert event["at"].endswith("+07:00")
    assert api.get("kiemtra", "/audit/events?limit=0").status_code == 422
    assert api.get("kiemtra", "/audit/events?after=x").status_code == 422


# --- web page and CLI -----------------------------------------------------------------


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, html
    return match[1]


def web_login(client: FlaskClient, username: str) -> None:
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def test_audit_page_shows_status_entries_and_makes_checkpoints(
    client: FlaskClient, services: Services, app: Flask, timestamper: Callable[[bytes], bytes]
) -> None:
    app.extensions[TIMESTAMPER_KEY] = timestamper
    web_login(client, "kiemtra")
    page = client.get("/audit")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Nhật ký kiểm toán" in html and "Toàn vẹn" in html
    assert "Đăng nhập" in html  # the login entry, with its Vietnamese label
    assert re.search(r"\d\d/\d\d/\d{4} \d\d:\d\d", html)
    token = csrf_token(html)

    assert client.post("/audit/verify").status_code == 400  # no CSRF token
    full = client.post("/audit/verify", data={"csrf_token": token})
    assert full.status_code == 303 and full.headers["Location"] == "/audit?full=1"  # PRG
    shown = client.get(full.headers["Location"]).get_data(as_text=True)
    assert "từ bản ghi đầu tiên" in shown and "Đã kiểm tra toàn bộ chuỗi" in shown  # feedback

    made = client.post("/audit/checkpoints", data={"csrf_token": token})
    assert made.status_code == 302
    with services.session_factory() as session:
        checkpoint = session.scalars(select(AuditCheckpoint)).one()
    assert checkpoint.timestamp_token is not None
    after = client.get("/audit").get_data(as_text=True)
    assert "Đã tạo điểm kiểm tra có dấu thời gian" in after
    assert "TrinhKy Test TSA" in after

    with tampering(services) as conn:
        conn.execute(update(EVENTS).where(EVENTS.c.seq == 1).values(object_id="999"))
    checked = client.post("/audit/verify", data={"csrf_token": token})
    broken = client.get(checked.headers["Location"]).get_data(as_text=True)
    assert "Không toàn vẹn" in broken and "Bản ghi bị sửa đổi" in broken
    assert "Chuỗi nhật ký không toàn vẹn tại bản ghi số 1" in broken  # the flash
    refused = client.post("/audit/checkpoints", data={"csrf_token": token})
    assert refused.status_code == 302  # from the latest checkpoint, entry 1 is not examined


def test_audit_page_is_for_auditors_only(client: FlaskClient) -> None:
    assert client.get("/audit").status_code == 302  # to the login page
    web_login(client, "chuyenvien")
    assert client.get("/audit").status_code == 403


def test_cli_audit_checkpoint(app: Flask, services: Services) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit-checkpoint"])
    assert result.exit_code == 0, result.output
    assert f"entry {head_seq(services)}" in result.output
    last = add_entries(services, 2)
    with tampering(services) as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.seq == last - 1))
    result = runner.invoke(args=["audit-checkpoint"])
    assert result.exit_code == 1
    assert f"BROKEN at entry {last - 1}" in result.output
    with services.session_factory() as session:
        assert len(session.scalars(select(AuditCheckpoint)).all()) == 1
