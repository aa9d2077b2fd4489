"""The transparency log: leaves appended with the audit log and the ledger in their
transaction, proofs from the stored subtrees, signed and stamped tree heads, the public
API, the public verification page, witnesses over real HTTP, the scheduler job."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from clients import log_witness
from signing.statements import check_statement
from storage import audit, merkle, tlog
from storage.checkpoints import token_info
from storage.ledger import LEDGER_FIELDS, LedgerEntry, ledger_line
from storage.models import AuditEvent
from storage.tlog_models import LogDelivery, LogLeaf
from storage.types import utcnow
from tests.conftest import Api
from tests.test_verification import add_code, signed_document
from workflow.services import Services
from workflow.transparency import usecases, witnesses


def _all_leaf_hashes(session: Any) -> list[bytes]:
    rows = session.execute(select(LogLeaf.idx, LogLeaf.data).order_by(LogLeaf.idx)).all()
    assert [r[0] for r in rows] == list(range(len(rows)))
    return [merkle.leaf_hash(r[1].encode()) for r in rows]


def publish(services: Services, **kw: Any) -> Any:
    with services.session_factory() as session:
        head = usecases.publish_tree_head(
            session, services, services.checkpoint_timestamper, utcnow(), **kw
        )
        session.commit()
    return head


@pytest.mark.both_databases
def test_leaves_follow_the_audit_log_in_its_transaction(services: Services) -> None:
    with services.session_factory() as session:
        # The instance's own history (seeded after migration 0026) is in the log.
        audit_seqs = session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all()
        leaves = session.execute(
            select(LogLeaf.ref, LogLeaf.data).where(LogLeaf.kind == "audit").order_by(LogLeaf.idx)
        ).all()
        assert [int(r) for r, _d in leaves] == list(audit_seqs) and audit_seqs
        hashes = dict(session.execute(select(AuditEvent.seq, AuditEvent.hash)).all())
        assert all(json.loads(d)["sha256"] == hashes[int(r)] for r, d in leaves)
        size = tlog.log_size(session)
        assert size == session.scalar(select(func.count()).select_from(LogLeaf))
        # rolled back with its entry
        audit.append(session, "test:one", actor_id=None, object_type="test")
        assert tlog.log_size(session) == size + 1
        session.rollback()
        assert tlog.log_size(session) == size
        for i in range(37):
            audit.append(session, "test:many", actor_id=None, object_type="test", object_id=i)
        session.commit()
    with services.session_factory() as session:
        n, root = tlog.current_root(session)
        hashes_all = _all_leaf_hashes(session)
        assert n == size + 37 == len(hashes_all)
        assert root == merkle.root_of(hashes_all) == tlog.root_at(session, n)
        for m in (1, 2, size, size + 1, n - 1, n):
            old_root = merkle.root_of(hashes_all[:m])
            assert tlog.root_at(session, m) == old_root
            proof = tlog.consistency_proof(session, m, n)
            assert merkle.verify_consistency(m, n, old_root, root, proof)
            for index in {0, m // 2, m - 1}:
                inc = tlog.inclusion_proof(session, index, m)
                assert inc.root == old_root and len(inc.path) <= m.bit_length()
                assert merkle.verify_inclusion(index, m, hashes_all[index], inc.path, old_root)
        with pytest.raises(tlog.ProofError):
            tlog.inclusion_proof(session, 0, n + 1)
    # Append-only: the database refuses to change or delete a leaf or a node.
    for statement in (
        "UPDATE log_leaves SET data = 'x' WHERE idx = 0",
        "DELETE FROM log_leaves WHERE idx = 0",
        "UPDATE log_nodes SET hash = hash WHERE level = 1",
    ):
        with services.session_factory() as session, pytest.raises(DBAPIError) as caught:
            session.execute(text(statement))
        assert "append-only" in str(caught.value)


@pytest.fixture
def issued(api: Api, services: Services) -> tuple[int, str]:
    doc_id, _data = signed_document(api, issue=True)
    return doc_id, add_code(services, doc_id)


def test_issued_document_proof_head_and_public_page(
    api: Api, services: Services, app: Flask, issued: tuple[int, str]
) -> None:
    doc_id, code = issued
    public = app.test_client()
    assert public.get("/api/v1/log/head").status_code == 404  # nothing signed yet
    page = public.get(f"/v/{code}").get_data(as_text=True)
    with services.session_factory() as session:
        position = usecases.issuance_position(session, doc_id)
    assert position is not None and not position.covered
    assert f"tại vị trí {position.entry}" in page and "log-proof.js" not in page

    first = publish(services)
    assert first is not None and publish(services) is None  # the log did not grow
    head = public.get("/api/v1/log/head").get_json()
    assert head["size"] == first.size and head["root_hash"] == first.root_hash
    statement = head["statement"].encode()
    assert json.loads(statement) == {
        "format": "trinhky-tree-head/1",
        "size": head["size"],
        "root_hash": head["root_hash"],
        "timestamp": head["timestamp"],
    }
    root_cert = x509.Certificate.load(
        base64.b64decode(b"".join(services.root_pem_path().read_bytes().splitlines()[1:-1]))
    )
    check = check_statement(base64.b64decode(head["signature"]), statement, [root_cert])
    assert check.intact and check.valid and check.trusted, check.problem
    assert check.fingerprint == head["signer_fingerprint"]
    forged = statement.replace(b'"size":', b'"size":1')
    assert not check_statement(base64.b64decode(head["signature"]), forged, [root_cert]).intact
    info = token_info(base64.b64decode(head["timestamp_token"]))
    assert info is not None and info.imprint == hashlib.sha256(statement).digest()

    page = public.get(f"/v/{code}").get_data(as_text=True)
    assert f"tại vị trí {position.entry}" in page and "js/log-proof.js" in page
    proof = public.get(f"/api/v1/log/proof?entry={position.entry}").get_json()
    assert proof["size"] == head["size"] and proof["tree_head"]["id"] == head["id"]
    leaf = json.loads(proof["leaf"])
    assert leaf["kind"] == "audit" and leaf["idx"] == position.entry
    with services.session_factory() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.seq == leaf["seq"])).one()
    assert event.action == "document:issued" and event.object_id == str(doc_id)
    assert leaf["sha256"] == event.hash
    # The ledger entries the issuance wrote are leaves too (their current version).
    with services.session_factory() as session:
        entries = session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.subject_kind == "document", LedgerEntry.subject_id == doc_id
            )
        ).all()
        assert entries
        found = tlog.latest_leaf(session, "ledger", [str(e.id) for e in entries])
        for entry in entries:
            data = session.get(LogLeaf, found[str(entry.id)])
            assert data is not None
            line = ledger_line({n: getattr(entry, n) for n in LEDGER_FIELDS})
            assert json.loads(data.data)["sha256"] == hashlib.sha256(line).hexdigest()
    assert merkle.verify_inclusion(
        position.entry,
        head["size"],
        merkle.leaf_hash(proof["leaf"].encode()),
        [bytes.fromhex(h) for h in proof["audit_path"]],
        bytes.fromhex(head["root_hash"]),
    )

    # More history, a second head: the consistency proof between the two.
    api.get("kiemtra", "/audit/verify")
    with services.session_factory() as session:
        for i in range(5):
            audit.append(session, "test:later", actor_id=None, object_type="test", object_id=i)
        session.commit()
    second = publish(services)
    assert second is not None and second.size > first.size
    body = public.get(f"/api/v1/log/consistency?from={first.size}").get_json()
    assert body["from"] == first.size and body["to"] == second.size
    assert body["tree_head"]["id"] == second.id
    assert merkle.verify_consistency(
        first.size,
        second.size,
        bytes.fromhex(first.root_hash),
        bytes.fromhex(second.root_hash),
        [bytes.fromhex(h) for h in body["consistency_path"]],
    )
    explicit = public.get(f"/api/v1/log/proof?entry=0&size={first.size}").get_json()
    assert explicit["root_hash"] == first.root_hash

    # Bad input: problem+json in Vietnamese, never a 500.
    for url, status in (
        ("/api/v1/log/proof?entry=abc", 422),
        ("/api/v1/log/proof", 422),
        ("/api/v1/log/proof?entry=-1", 422),
        (f"/api/v1/log/proof?entry={second.size + 10}", 404),
        (f"/api/v1/log/proof?entry=0&size={second.size + 1000}", 404),
        (f"/api/v1/log/consistency?from={second.size}&to={first.size}", 409),
        ("/api/v1/log/consistency?from=x", 422),
    ):
        response = public.get(url)
        assert response.status_code == status, (url, response.get_json())
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["detail"]


class _Receiver(http.server.BaseHTTPRequestHandler):
    statuses: list[int] = []
    received: list[tuple[bytes, str]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((body, self.headers.get(witnesses.HEADER, "")))
        self.send_response(type(self).statuses.pop(0) if type(self).statuses else 200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.statuses, _Receiver.received = [], []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/witness"
    finally:
        server.shutdown()
        server.server_close()


def test_witnesses_receive_signed_heads_over_http(
    api: Api, services: Services, receiver: str
) -> None:
    denied = api.post("chuyenvien", "/log/witnesses", json={"name": "X", "url": receiver})
    assert denied.status_code == 403
    bad = api.post("admin", "/log/witnesses", json={"name": "X", "url": "ftp://x"})
    assert bad.status_code == 422 and "URL" in bad.get_json()["detail"]
    made = api.post("admin", "/log/witnesses", json={"name": "Đảng ủy cấp trên", "url": receiver})
    assert made.status_code == 201, made.get_json()
    secret = made.get_json()["secret"]
    _Receiver.statuses = [503]  # the first attempt fails, the retry succeeds
    head = publish(services)
    assert head is not None
    now = utcnow()
    with services.session_factory() as session:
        assert witnesses.deliver_due(session, now, usecases.head_json) == (0, 1)
        session.commit()
        assert witnesses.deliver_due(session, now, usecases.head_json) == (0, 0)  # not due
        later = now + witnesses.RETRY_DELAYS[0]
        assert witnesses.deliver_due(session, later, usecases.head_json) == (1, 0)
        session.commit()
        delivery = session.scalars(select(LogDelivery)).one()
        assert delivery.state == "delivered" and delivery.attempts == 2
    assert len(_Receiver.received) == 2
    body, header = _Receiver.received[-1]
    sent_at = int(header.split(",")[0].removeprefix("t="))
    assert witnesses.check_signature(secret, body, header, now=sent_at)
    assert not witnesses.check_signature("other", body, header, now=sent_at)
    assert not witnesses.check_signature(secret, body + b" ", header, now=sent_at)
    assert json.loads(body)["tree_head"]["root_hash"] == head.root_hash
    listed = api.get("admin", "/log/witnesses").get_json()["witnesses"]
    assert listed[0]["delivered"] == 1 and "secret" not in listed[0]
    url = f"/api/v1/log/witnesses/{listed[0]['id']}"
    assert api.client.delete(url, headers=api.headers("admin")).status_code == 200
    with services.session_factory() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.object_type == "log_witness")
        ).all()
    assert actions == ["log:witness_added", "log:witness_removed"]


def test_reference_witness_keeps_heads_and_refuses_a_rewrite(
    api: Api, services: Services, tmp_path: Path
) -> None:
    """clients/log_witness.py: checks the HMAC, then that each head extends the last one
    kept (the consistency proof fetched from the log's public API)."""
    secret = "bí mật của bên chứng kiến"
    kept = log_witness.Witness(tmp_path / "w", secret, "http://log.invalid", None, "localhost")
    kept.fetch = lambda path: api.client.get(path).get_json()  # type: ignore[method-assign]

    def send(head: dict[str, Any], key: str = secret) -> tuple[int, str]:
        body = witnesses.body_of(head)
        now = int(time.time())  # the witness checks the age against its own clock
        return kept.receive(body, witnesses.signature_header(key, body, now))

    first = publish(services)
    assert send(usecases.head_json(first)) == (200, "kept")
    with services.session_factory() as session:
        for i in range(3):
            audit.append(session, "test:later", actor_id=None, object_type="test", object_id=i)
        session.commit()
    second = publish(services)
    assert send(usecases.head_json(second), key="another") == (401, "bad signature")
    assert send(usecases.head_json(second)) == (200, "kept")
    rewritten = dict(usecases.head_json(second), root_hash="00" * 32)
    status, text = send(rewritten)
    assert status == 409 and "rewritten" in text
    alerts = (tmp_path / "w" / "ALERTS.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(alerts[0])["received"]["root_hash"] == "00" * 32
    heads = (tmp_path / "w" / "heads.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(h)["size"] for h in heads] == [first.size, second.size]


def test_checkpoints_job_signs_a_tree_head(app: Flask, services: Services) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["scheduler", "run-job", "checkpoints"])
    assert result.exit_code == 0, result.output
    with services.session_factory() as session:
        head = tlog.latest_tree_head(session)
        assert head is not None and head.signature and head.timestamp_token
        assert head.size == tlog.log_size(session)
        assert head.issued_at <= utcnow() + timedelta(seconds=1)
