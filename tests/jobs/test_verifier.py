"""The offline verifier on the checkpoints the scheduler made: the bundle carries their
RFC 3161 tokens; the verifier checks each token's imprint against the checkpoint's head
hash, its signature, and that the TSA chains to the bundle's root, and that the ledger
heads in the chain are under a verified token. A token of another TSA, or over another
head, fails the bundle."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import crl
from flask import Flask

from signing.pki import EmbeddedPki
from signing.revocation import CertStatus
from signing.trust import TrustServices
from signing.tsa import digest_timestamper
from storage.types import utcnow
from tests.conftest import Api
from tests.jobs.conftest import Clock
from tests.test_bundle import dump_jsonl, export_api, jsonl, rewrite, verify
from tests.test_coverage import issue_via_full_route
from workflow.jobs.runner import Runner
from workflow.services import Services


@pytest.fixture
def exported(
    app: Flask,
    api: Api,
    services: Services,
    make_runner: Callable[..., Runner],
    clock: Clock,
    tmp_path: Path,
) -> Path:
    """A bundle after two scheduled checkpoints with a document issued between them."""
    clock.now = utcnow() - timedelta(minutes=5)
    runner = make_runner()
    assert runner.tick("checkpoints").status == "ok"
    issue_via_full_route(api, "NQ", "Nghị quyết về chuyển đổi số năm 2027")
    clock.now = utcnow()
    clock.advance(timedelta(hours=1))  # the next due time
    assert runner.tick("checkpoints").status == "ok"
    return export_api(api, tmp_path)


def test_the_bundle_carries_the_scheduled_checkpoints_and_they_verify(exported: Path) -> None:
    done = verify(exported)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "[FAIL]" not in out and "bundle VERIFIED" in out
    stamped = [line for line in out.splitlines() if "RFC 3161 token of" in line]
    assert len(stamped) == 2 and all(line.startswith("[ OK ] checkpoints:") for line in stamped)
    assert "signed by a TSA of the bundle's PKI" in stamped[0]
    assert "[ OK ] ledger-heads: 2 of 2 ledger heads are under a verified RFC 3161 token" in out


def _replace_token(src: Path, dst: Path, make: Callable[[dict[str, Any]], bytes]) -> Path:
    def edit(files: dict[str, bytes]) -> None:
        rows = jsonl(files["checkpoints.jsonl"])
        rows[-1]["timestamp_token"] = base64.b64encode(make(rows[-1])).decode()
        files["checkpoints.jsonl"] = dump_jsonl(rows)

    # The manifest rewritten too (an attacker who can): only the token check can tell.
    return rewrite(src, dst, edit, fix_manifest=True)


def test_a_token_of_another_tsa_fails(exported: Path, tmp_path: Path) -> None:
    other = EmbeddedPki.create(tmp_path / "other-ca", b"other-pass", "Tổ chức khác")
    foreign = TrustServices(other, lambda _serial: CertStatus(revoked=False)).timestamper
    stamp = digest_timestamper(foreign)

    def token(cp: dict[str, Any]) -> bytes:
        return stamp(hashlib.sha256(bytes.fromhex(cp["head_hash"])).digest())

    done = verify(_replace_token(exported, tmp_path / "foreign.zip", token))
    assert done.returncode == 1, done.stdout
    (line,) = [x for x in done.stdout.splitlines() if "timestamp token:" in x]
    assert line.startswith("[FAIL] checkpoints:") and "not trusted" in line
    assert "bundle NOT VERIFIED" in done.stdout


def test_a_token_over_another_head_fails(
    exported: Path, services: Services, tmp_path: Path
) -> None:
    stamp = digest_timestamper(services.trust_services.timestamper)

    def token(_cp: dict[str, Any]) -> bytes:
        return stamp(hashlib.sha256(b"another head").digest())

    done = verify(_replace_token(exported, tmp_path / "moved.zip", token))
    assert done.returncode == 1, done.stdout
    assert "the timestamp token's imprint does not cover its head hash" in done.stdout
    assert "[WARN] ledger-heads:" in done.stdout  # the newest head lost its stamp


def test_tokens_are_checked_with_the_crl_issued_during_the_export(
    exported: Path, tmp_path: Path
) -> None:
    """The manifest records when the export started; its CRL is issued seconds later
    (after the PDFs were validated). The tokens are checked as of that CRL, not before
    it, where it would be too recent to use."""

    def earlier(files: dict[str, bytes]) -> None:
        issued = crl.CertificateList.load(files["pki/issuing.crl"])["tbs_cert_list"]
        manifest = json.loads(files["manifest.json"])
        start = issued["this_update"].native - timedelta(seconds=2)
        manifest["created_at"] = start.isoformat()
        files["manifest.json"] = json.dumps(manifest, ensure_ascii=False).encode()

    done = verify(rewrite(exported, tmp_path / "slow-export.zip", earlier, fix_manifest=False))
    assert done.returncode == 0, done.stdout
    assert done.stdout.count("signed by a TSA of the bundle's PKI") == 2
