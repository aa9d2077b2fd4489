"""Audit bundle: export (API, CLI, page), the offline verifier on a clean bundle, four
tamperings it must catch, the shared audit hash rule, permissions."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from storage.audit import hash_values
from storage.models import AuditEvent
from tests.conftest import REPO, Api
from tests.test_coverage import issue_via_full_route
from tests.test_web import csrf_token, login
from trinhky_verify import chain
from workflow.audit.web import checkpoint_now
from workflow.coverage import ledger as coverage
from workflow.services import Services
from workflow.vocab import VN_TZ


def this_quarter() -> str:
    today = coverage.utc_now().astimezone(VN_TZ).date()
    return f"{today.year}-Q{(today.month - 1) // 3 + 1}"


# The bundle's period is the current quarter: a known one, a week from its edges.
pytestmark = pytest.mark.usefixtures("clock")


@pytest.fixture
def bundle_app(app: Flask) -> Flask:
    """The app (create_app registers the bundle page, API route and CLI)."""
    assert "bundle" in app.blueprints and "export-bundle" in app.cli.commands
    return app


def seed(api: Api, services: Services) -> dict[str, int]:
    """Two documents issued via the full route, the ledger refreshed, a timestamped
    checkpoint of the audit chain."""
    a = issue_via_full_route(api, "NQ", "Nghị quyết về chuyển đổi số năm 2027")
    b = issue_via_full_route(api, "CV", "Công văn về hội nghị")
    stamper = services.trust_services.timestamper

    def timestamp(digest: bytes) -> bytes:
        return bytes(asyncio.run(stamper.async_timestamp(digest, "sha256")).dump())

    with services.session_factory() as s:
        coverage.refresh_ledger(s, services.blobs, services.trust, now=coverage.utc_now())
        s.commit()
        report, checkpoint = checkpoint_now(s, timestamp)
        assert report.ok and checkpoint is not None and checkpoint.timestamp_token
        s.commit()
    return {"a": a, "b": b}


def verify(path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trinhky_verify", str(path), *options],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def export_api(api: Api, tmp_path: Path, user: str = "kiemtra") -> Path:
    r = api.post(user, "/bundles", json={"unit": "BTG", "period": this_quarter()})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.mimetype == "application/zip"
    assert "attachment" in r.headers["Content-Disposition"]
    path = tmp_path / "api.zip"
    path.write_bytes(r.data)
    return path


def rewrite(
    src: Path, dst: Path, edit: Callable[[dict[str, bytes]], None], *, fix_manifest: bool
) -> Path:
    """Copy a bundle, editing its files; ``fix_manifest``: also recompute the manifest's
    hashes (an attacker who rewrites it), dropping files no longer there."""
    with zipfile.ZipFile(src) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    edit(files)
    if fix_manifest:
        manifest = json.loads(files["manifest.json"])
        manifest["files"] = [
            {
                "name": e["name"],
                "sha256": hashlib.sha256(files[e["name"]]).hexdigest(),
                "size": len(files[e["name"]]),
            }
            for e in manifest["files"]
            if e["name"] in files
        ]
        files["manifest.json"] = json.dumps(manifest, ensure_ascii=False).encode()
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return dst


def jsonl(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode().splitlines() if line.strip()]


def dump_jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows).encode()


# --- the hash rule ---------------------------------------------------------------------


def test_verifier_hashes_audit_entries_like_the_server(app: Flask, services: Services) -> None:
    at = datetime(2026, 9, 30, 17, 0, 0, 123456, tzinfo=UTC)
    details = {"lý_do": "Trả lại để sửa", "n": [1, 2.5, None], "z": {"b": True, "a": "Đ"}}
    server = hash_values(7, at, None, "document:signed", "document", "12", details, "ab" * 32)
    row = {
        "seq": 7,
        "at": at.isoformat(),
        "actor_id": None,
        "action": "document:signed",
        "object_type": "document",
        "object_id": "12",
        "details": json.loads(json.dumps(details)),
        "prev_hash": "ab" * 32,
    }
    assert chain.entry_hash(row) == server
    assert chain.GENESIS == "0" * 64
    with services.session_factory() as s:
        events = s.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        assert events
        for e in events:
            stored = {
                "seq": e.seq,
                "at": e.at.isoformat(),
                "actor_id": e.actor_id,
                "action": e.action,
                "object_type": e.object_type,
                "object_id": e.object_id,
                "details": json.loads(json.dumps(e.details)),
                "prev_hash": e.prev_hash,
            }
            assert chain.entry_hash(stored) == e.hash


def test_verifier_imports_no_server_code() -> None:
    code = (
        "import sys, trinhky_verify, trinhky_verify.__main__\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('flask', 'sqlalchemy', 'storage', 'workflow', 'signing')]\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


# --- export and a clean verification ------------------------------------------------------


# The bundle hashes rows as the database returns them (timestamps, JSON).
@pytest.mark.both_databases
def test_export_via_api_cli_and_page_verifies_clean(
    bundle_app: Flask, api: Api, services: Services, tmp_path: Path
) -> None:
    ids = seed(api, services)
    path = export_api(api, tmp_path)
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
        ledger = jsonl(zf.read("ledger.jsonl"))
        audit_rows = jsonl(zf.read("audit.jsonl"))
        cps = jsonl(zf.read("checkpoints.jsonl"))
        stated = json.loads(zf.read("figures.json"))
        report = json.loads(zf.read(f"reports/{ids['a']}.json"))
        register = zf.read("register.csv").decode("utf-8-sig")
    pdfs = sorted(n for n in names if n.startswith("documents/"))
    assert pdfs == [f"documents/{ids['a']}-01-NQ-DUK.pdf", f"documents/{ids['b']}-02-CV-DUK.pdf"]
    for name in (
        "pki/root.pem",
        "pki/issuing.pem",
        "pki/tsa.pem",
        "pki/issuing.crl",
        "register.csv",
        "ledger.jsonl",
        "audit.jsonl",
        "checkpoints.jsonl",
        "figures.json",
        "manifest.json",
    ):
        assert name in names, name
    assert {f["name"] for f in manifest["files"]} == names - {"manifest.json"}
    assert manifest["unit"] == "BTG" and manifest["period"]["code"] == this_quarter()
    assert manifest["server_version"] and manifest["created_by"] == "kiemtra"
    assert report["bottom_line"] is True and len(report["signatures"]) == 2
    assert {(e["target"], e["subject_id"]) for e in ledger} >= {("T2", ids["a"]), ("T2", ids["b"])}
    t2 = next(e for e in ledger if e["target"] == "T2" and e["subject_id"] == ids["a"])
    assert set(t2) >= {"id", "state", "pdf_sha256", "evidence", "checked_at", "exempt_reason"}
    assert audit_rows[0]["seq"] == 1 and audit_rows[-1]["action"] == "bundle:exported"
    assert audit_rows[-1]["details"]["content_sha256"] == manifest["audit"]["content_sha256"]
    assert set(audit_rows[0]) == {
        "seq", "at", "actor_id", "action", "object_type", "object_id", "details", "prev_hash", "hash"
    }  # fmt: skip
    assert len(cps) == 1 and cps[0]["timestamp_token"]
    assert stated["figures"]["T2"]["numerator"] == 2 and stated["unit"] == "BTG"
    assert "01-NQ/ĐUK" in register and "outgoing" in register

    clean = verify(path)
    print(clean.stdout)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    out = clean.stdout
    assert "bundle VERIFIED" in out and "[FAIL]" not in out
    # One verdict per line and nothing else: pyHanko's tracebacks stay off the terminal
    # (summarised as notes on their check; in full with --log FILE).
    assert clean.stderr == "" and "Traceback" not in out
    assert all(
        re.match(r"\[(?: OK |FAIL|WARN|INFO)\] [a-z-]+: ", line) for line in out.splitlines()[:-1]
    )
    assert out.splitlines()[-1].startswith("SUMMARY: ")
    log = tmp_path / "verify.log"
    logged = verify(path, "--log", str(log))
    assert logged.returncode == 0 and logged.stderr == "" and logged.stdout == out
    assert "pyhanko" in log.read_text(encoding="utf-8")
    assert re.search(r"\[ OK \] manifest: \d+ files present", out)
    assert f"document #{ids['a']} (01-NQ/ĐUK): 2 signatures intact" in out
    assert "timestamp token" in out or "RFC 3161 token" in out
    assert "[ OK ] figures: T2: 2/2 = 100.0%" in out

    # The CLI: same content, recorded in the audit log too.
    out_zip = tmp_path / "cli" / "bundle.zip"
    result = bundle_app.test_cli_runner().invoke(
        args=["export-bundle", "--unit", "BTG", "--period", this_quarter(), "--out", str(out_zip)]
    )
    assert result.exit_code == 0, result.output
    assert "2 documents" in result.output
    assert verify(out_zip).returncode == 0
    bad = bundle_app.test_cli_runner().invoke(
        args=["export-bundle", "--unit", "BTG", "--period", "2026-Q5", "--out", str(out_zip)]
    )
    assert bad.exit_code != 0 and "Kỳ thống kê không hợp lệ" in bad.output
    with services.session_factory() as s:
        exports = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "bundle:exported")
            .order_by(AuditEvent.seq)
        ).all()
        assert [e.actor_id is None for e in exports] == [False, True]

    # The page and its button.
    client = bundle_app.test_client()
    login(client, "kiemtra")
    page = client.get("/audit/bundle")
    assert page.status_code == 200 and "Xuất gói kiểm toán" in page.get_data(as_text=True)
    token = csrf_token(client, "/audit/bundle")
    download = client.post(
        "/audit/bundle", data={"csrf_token": token, "unit": "BTG", "period": this_quarter()}
    )
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert zipfile.ZipFile(io.BytesIO(download.data)).read("manifest.json")
    download.close()


# --- tampering ----------------------------------------------------------------------------


@pytest.fixture
def exported(bundle_app: Flask, api: Api, services: Services, tmp_path: Path) -> dict[str, Any]:
    ids = seed(api, services)
    return {**ids, "path": export_api(api, tmp_path), "tmp": tmp_path}


def test_changed_pdf_byte_is_caught(exported: dict[str, Any]) -> None:
    name = f"documents/{exported['a']}-01-NQ-DUK.pdf"

    def flip(files: dict[str, bytes]) -> None:
        data = bytearray(files[name])
        data[len(data) // 3] ^= 0x01
        files[name] = bytes(data)

    done = verify(rewrite(exported["path"], exported["tmp"] / "t.zip", flip, fix_manifest=False))
    assert done.returncode == 1, done.stdout
    assert f"[FAIL] manifest: {name} changed: SHA-256" in done.stdout
    assert "does not match the ledger's pdf_sha256" in done.stdout
    assert f"[FAIL] signatures: document #{exported['a']} (01-NQ/ĐUK)" in done.stdout
    assert "bundle NOT VERIFIED" in done.stdout


def test_edited_ledger_row_is_caught(exported: dict[str, Any]) -> None:
    def edit(files: dict[str, bytes]) -> None:
        rows = jsonl(files["ledger.jsonl"])
        for r in rows:
            if r["target"] == "T2" and r["subject_id"] == exported["b"]:
                r["state"] = "signed_invalid"
        files["ledger.jsonl"] = dump_jsonl(rows)

    plain = verify(rewrite(exported["path"], exported["tmp"] / "l1.zip", edit, fix_manifest=False))
    assert plain.returncode == 1 and "[FAIL] manifest: ledger.jsonl changed" in plain.stdout
    # With the manifest rewritten too: the export entry and the figures still disagree.
    deep = verify(rewrite(exported["path"], exported["tmp"] / "l2.zip", edit, fix_manifest=True))
    assert deep.returncode == 1, deep.stdout
    assert "[FAIL] manifest" not in deep.stdout
    assert "[FAIL] export: audit entry" in deep.stdout and "records content SHA-256" in deep.stdout
    assert (
        "[FAIL] figures: T2: stated figure does not match the ledger: numerator: stated 2, "
        "recomputed 1" in deep.stdout
    )


def test_edited_audit_row_is_caught(exported: dict[str, Any]) -> None:
    def edit(files: dict[str, bytes]) -> None:
        rows = jsonl(files["audit.jsonl"])
        rows[2]["object_id"] = "999"
        files["audit.jsonl"] = dump_jsonl(rows)

    plain = verify(rewrite(exported["path"], exported["tmp"] / "a1.zip", edit, fix_manifest=False))
    assert plain.returncode == 1 and "[FAIL] manifest: audit.jsonl changed" in plain.stdout
    deep = verify(rewrite(exported["path"], exported["tmp"] / "a2.zip", edit, fix_manifest=True))
    assert deep.returncode == 1, deep.stdout
    assert "[FAIL] audit: chain broken: entry 3 altered" in deep.stdout
    assert re.search(r"\[FAIL\] checkpoints: checkpoint #\d+ \(entry \d+", deep.stdout)


def test_removed_document_is_caught(exported: dict[str, Any]) -> None:
    name = f"documents/{exported['b']}-02-CV-DUK.pdf"

    def drop(files: dict[str, bytes]) -> None:
        del files[name]
        del files[f"reports/{exported['b']}.json"]

    plain = verify(rewrite(exported["path"], exported["tmp"] / "r1.zip", drop, fix_manifest=False))
    assert plain.returncode == 1, plain.stdout
    assert f"[FAIL] manifest: {name} is listed but missing from the bundle" in plain.stdout
    # Dropped from the manifest too: the ledger still names the document.
    deep = verify(rewrite(exported["path"], exported["tmp"] / "r2.zip", drop, fix_manifest=True))
    assert deep.returncode == 1, deep.stdout
    assert f"(T2 document #{exported['b']}) (02-CV/ĐUK): its PDF is missing" in deep.stdout


def test_stated_figure_that_does_not_match_is_caught(exported: dict[str, Any]) -> None:
    def edit(files: dict[str, bytes]) -> None:
        data = json.loads(files["figures.json"])
        data["figures"]["T1"]["numerator"] = 2
        data["figures"]["T1"]["figure"] = 1.0
        data["figures"]["T1"]["met"] = True
        files["figures.json"] = json.dumps(data, ensure_ascii=False).encode()

    done = verify(rewrite(exported["path"], exported["tmp"] / "f.zip", edit, fix_manifest=True))
    assert done.returncode == 1, done.stdout
    assert "[FAIL] figures: T1: stated figure does not match the ledger: numerator: stated 2, " \
        "recomputed 0" in done.stdout  # fmt: skip
    assert "[ OK ] figures: T2" in done.stdout


def test_a_verifier_error_is_a_failed_verdict(tmp_path: Path) -> None:
    """A bundle the checks cannot even read (a document id that is not a number) stops
    the verifier: one FAILED line, exit 2, no traceback on the terminal."""
    odd = tmp_path / "odd.zip"
    with zipfile.ZipFile(odd, "w") as zf:
        manifest = {"files": [], "documents": [{"id": "x", "file": "documents/x.pdf"}]}
        zf.writestr("manifest.json", json.dumps(manifest))
    done = verify(odd, "--log", str(tmp_path / "odd.log"))
    assert done.returncode == 2 and done.stderr == "", done.stderr
    assert "[FAIL] verifier: stopped by an unexpected error (ValueError" in done.stdout
    assert done.stdout.splitlines()[-1] == (
        "SUMMARY: bundle NOT VERIFIED (the verification could not be completed)"
    )
    assert "Traceback" in (tmp_path / "odd.log").read_text(encoding="utf-8")


def test_not_a_bundle(tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    done = verify(junk)
    assert done.returncode == 2 and "not a readable ZIP" in done.stdout


# --- permissions and input ----------------------------------------------------------------


def test_permissions_and_input(bundle_app: Flask, api: Api) -> None:
    for user in ("chuyenvien", "vanthu"):
        r = api.post(user, "/bundles", json={"unit": "BTG", "period": this_quarter()})
        assert r.status_code == 403, user
    assert api.client.post("/api/v1/bundles", json={}).status_code == 401
    bad = api.post("kiemtra", "/bundles", json={"unit": "BTG", "period": "2026-Q5"})
    assert bad.status_code == 422 and "Kỳ thống kê không hợp lệ" in bad.get_json()["detail"]
    assert (
        api.post("kiemtra", "/bundles", json={"unit": "KHONG-CO", "period": "2026"}).status_code
        == 404
    )
    assert api.post("kiemtra", "/bundles", json={"unit": ["x"]}).status_code == 422
    ok = api.post("admin", "/bundles", json={"unit": "BTG", "period": "2026"})
    assert ok.status_code == 200 and ok.data[:2] == b"PK"
    client = bundle_app.test_client()
    login(client, "chuyenvien")
    assert client.get("/audit/bundle").status_code == 403
    assert not list((Path(bundle_app.instance_path) / "tmp").glob("bundle-*"))
