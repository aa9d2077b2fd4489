"""The offline verifier of the transparency log: today's export against a tree head
saved at an earlier audit; rewritten, deleted, inserted and reordered entries break the
consistency and are named at their position."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from storage import audit
from storage.ledger import LedgerEntry
from storage.types import utcnow
from tests.test_transparency_log import publish
from trinhky_verify import chain, tlog
from trinhky_verify.__main__ import main
from workflow.services import Services
from workflow.transparency import usecases

Rows = list[dict[str, Any]]


def _export(services: Services, path: Path) -> Path:
    with services.read_session_factory() as session:
        usecases.export_to(session, services, path)
    return path


_EXPORTS: dict[str, Any] = {}


@pytest.fixture
def exports(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, db_backend: str
) -> dict[str, Any]:
    """An earlier export and head (saved at "last year's audit"), then today's: made once
    for the module (the tests only read the files; ``db_backend`` names the database the
    first test's instance is made on)."""
    if not _EXPORTS:
        services: Services = request.getfixturevalue("services")
        _EXPORTS.update(_make_exports(services, tmp_path_factory.mktemp("log-exports")))
    return _EXPORTS


def _make_exports(services: Services, tmp_path: Path) -> dict[str, Any]:
    with services.session_factory() as session:
        for i in range(6):
            audit.append(session, "test:before", actor_id=None, object_type="test", object_id=i)
        session.commit()
    first = publish(services)
    with services.read_session_factory() as session:
        saved = usecases.head_json(first)
    head_file = tmp_path / "tree-head-2025.json"
    head_file.write_text(json.dumps(saved), encoding="utf-8")
    earlier = _export(services, tmp_path / "log-2025.zip")
    with services.session_factory() as session:
        for i in range(9):
            audit.append(session, "test:after", actor_id=None, object_type="test", object_id=i)
        session.commit()
    publish(services)
    today = _export(services, tmp_path / "log-today.zip")
    return {"head": head_file, "earlier": earlier, "today": today, "size": first.size}


def _read(path: Path) -> tuple[dict[str, bytes], Rows, Rows]:
    with zipfile.ZipFile(path) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    leaves = [json.loads(x) for x in files["leaves.jsonl"].decode().splitlines()]
    rows = [json.loads(x) for x in files["audit.jsonl"].decode().splitlines()]
    return files, leaves, rows


def _write(path: Path, files: dict[str, bytes], leaves: Rows, rows: Rows) -> Path:
    files = dict(files)
    files["leaves.jsonl"] = "".join(
        json.dumps(x, ensure_ascii=False) + "\n" for x in leaves
    ).encode()
    files["audit.jsonl"] = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in rows).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    path.write_bytes(buffer.getvalue())
    return path


def _canonical(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _set_data(leaf: dict[str, Any], **changes: Any) -> None:
    body = dict(json.loads(leaf["data"]), **changes)
    leaf["data"] = _canonical(body)
    leaf["idx"] = body["idx"]


def _position_of_seq(leaves: Rows, seq: int) -> int:
    return next(i for i, x in enumerate(leaves) if json.loads(x["data"]).get("seq") == seq)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["log", *argv])
    return code, capsys.readouterr().out


def test_todays_log_extends_the_saved_head(
    exports: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, str(exports["today"]), "--since", str(exports["head"]))
    assert code == 0, out
    assert "today's log extends it" in out and "signed by" in out and "RFC 3161 timestamp" in out
    code, out = run(capsys, str(exports["today"]), "--since", str(exports["earlier"]))
    assert code == 0, out
    # Shorter than the saved head: not an extension.
    code, out = run(capsys, str(exports["earlier"]), "--since", str(exports["today"]))
    assert code == 1 and "shorter than the saved head" in out


def _rewrite_rehash(leaves: Rows, rows: Rows, k: int, seq: int) -> None:
    row = next(r for r in rows if r["seq"] == seq)
    row["details"] = dict(row["details"], forged="yes")
    row["hash"] = chain.entry_hash(row)
    _set_data(leaves[k], sha256=row["hash"])


def _delete(leaves: Rows, rows: Rows, k: int, seq: int) -> None:
    del leaves[k]
    rows[:] = [r for r in rows if r["seq"] != seq]
    for leaf in leaves[k:]:  # and the positions after it renumbered
        _set_data(leaf, idx=json.loads(leaf["data"])["idx"] - 1)


def _insert(leaves: Rows, rows: Rows, k: int, seq: int) -> None:
    forged = {"idx": k, "kind": "ledger", "id": 999999, "sha256": "ab" * 32}
    leaves.insert(k, {"idx": k, "kind": "ledger", "ref": "999999", "data": _canonical(forged)})


def _reorder(leaves: Rows, rows: Rows, k: int, seq: int) -> None:
    leaves[k], leaves[k + 1] = leaves[k + 1], leaves[k]


@pytest.mark.parametrize(
    ("tamper", "words"),
    [
        (_rewrite_rehash, "rewritten and re-hashed"),
        (_delete, "is missing (deleted)"),
        (_insert, "was inserted"),
        (_reorder, "out of order (moved after entry 4)"),
    ],
    ids=["rewritten", "deleted", "inserted", "reordered"],
)
def test_tampered_entry_breaks_consistency_and_is_named(
    exports: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tamper: Callable[[Rows, Rows, int, int], None],
    words: str,
) -> None:
    files, leaves, rows = _read(exports["today"])
    seq = 3  # an entry well inside the saved head
    k = _position_of_seq(leaves, seq)
    assert k + 1 < exports["size"]
    tamper(leaves, rows, k, seq)
    forged = _write(tmp_path / "forged.zip", files, leaves, rows)
    code, out = run(capsys, str(forged), "--since", str(exports["head"]))
    assert code == 1, out
    assert f"first bad entry: {k}:" in out and words in out, out
    assert "today's log does NOT extend it; first bad entry: " + str(k) in out, out


def test_naive_rewrite_is_named_without_a_saved_head(
    exports: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files, leaves, rows = _read(exports["today"])
    k = _position_of_seq(leaves, 4)
    next(r for r in rows if r["seq"] == 4)["action"] = "document:viewed"
    code, out = run(capsys, str(_write(tmp_path / "f.zip", files, leaves, rows)))
    assert code == 1 and f"first bad entry: {k}: entry {k} (audit entry 4) was rewritten" in out


def test_a_log_rebuilt_consistently_is_pinned_by_the_earlier_export(
    exports: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Entry k changed and everything after it re-hashed and renumbered: nothing is
    wrong inside today's log; the saved head shows it is not an extension, the earlier
    export names the entry."""
    files, leaves, rows = _read(exports["today"])
    k = _position_of_seq(leaves, 5)
    by_seq = {r["seq"]: r for r in rows}
    by_seq[5]["details"] = dict(by_seq[5]["details"], forged="yes")
    prev = by_seq[4]["hash"]
    for seq in sorted(by_seq):
        if seq < 5:
            continue
        by_seq[seq]["prev_hash"] = prev
        by_seq[seq]["hash"] = prev = chain.entry_hash(by_seq[seq])
    for leaf in leaves:
        body = json.loads(leaf["data"])
        if body["kind"] == "audit" and body["seq"] >= 5:
            _set_data(leaf, sha256=by_seq[body["seq"]]["hash"])
    forged = _write(tmp_path / "rebuilt.zip", files, leaves, rows)
    code, out = run(capsys, str(forged), "--since", str(exports["head"]))
    assert code == 1 and "does NOT extend it; give the earlier export" in out, out
    code, out = run(capsys, str(forged), "--since", str(exports["earlier"]))
    assert code == 1 and f"does NOT extend it; first bad entry: {k}" in out, out


def test_unreadable_inputs_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    code, out = run(capsys, str(junk))
    assert code == 2 and "NOT VERIFIED" in out


def test_bundle_proofs_are_checked_from_the_bundles_own_rows(
    services: Services, tmp_path: Path
) -> None:
    files, _leaves, rows = _read(_export(services, tmp_path / "log.zip"))
    with services.session_factory() as session:
        ledger = [
            {c: getattr(e, c) for c in chain.LEDGER_FIELDS}
            for e in session.scalars(select(LedgerEntry).order_by(LedgerEntry.id))
        ]
        for entry in ledger:
            entry["period_date"] = entry["period_date"].isoformat()
        head, proofs = usecases.bundle_log(
            session, services, None, utcnow(), range(1, len(rows) + 1), [e["id"] for e in ledger]
        )
        session.commit()
    roots = [files["pki/root.pem"]]
    lines = tlog.bundle_lines(head, proofs, rows, ledger, roots)
    assert [x.status for x in lines] == ["OK", "WARN", "OK"], lines  # signed, no TSA given
    assert f"{len(rows)} audit entries and {len(ledger)} ledger entries" in lines[-1].message
    missing = [x.message for x in tlog.bundle_lines(head, proofs[1:], rows, ledger, roots)]
    assert "audit entry 1 has no verified inclusion proof" in missing
    rows[2]["details"] = {"forged": True}
    failed = [x.message for x in tlog.bundle_lines(head, proofs, rows, ledger, roots)]
    assert "audit entry 3: not in the tree at entry" in " ".join(failed)
