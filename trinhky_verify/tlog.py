"""Verify TrinhKy's transparency log offline: today's log export (``flask --app wsgi
log export``) against a tree head saved at an earlier audit (``GET /api/v1/log/head``,
or an earlier export).

What it proves, and how it names the first bad entry:

- every leaf sits at the position it names (``idx`` is inside the hashed leaf input):
  an entry deleted, inserted or moved shows at its position;
- audit leaves follow the audit log's numbering and hash chain, and each audit entry's
  content hashes to the hash its leaf records: a rewritten entry shows at its position
  (a re-hashed one at the first link it breaks, blamed on the entry that changed);
- the export's tree head is the root of its leaves, signed by the organisation and
  stamped by the TSA (signature and imprint checked; trust against ``pki/`` roots);
- the earlier tree head is the root of the first ``m`` leaves, and the RFC 9162
  consistency proof from it to today's head verifies: today's log extends it. If the
  earlier *export* is given, its leaves are compared one by one, so even a log rebuilt
  consistently from a changed entry onwards is pinned to that entry.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asn1crypto import cms
from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
from pyhanko_certvalidator import ValidationContext

from trinhky_verify import chain, merkle
from trinhky_verify.lines import Line
from trinhky_verify.pdfsig import load_certs


class ExportUnreadable(Exception):
    """Not a log export (or tree head) at all."""


@dataclass
class LogExport:
    """What a log export holds."""

    leaves: list[dict[str, Any]]
    audit: dict[int, dict[str, Any]]
    head: dict[str, Any] | None
    roots_pem: list[bytes] = field(default_factory=list)


def _jsonl(zf: zipfile.ZipFile, name: str) -> list[dict[str, Any]]:
    if name not in zf.namelist():
        return []
    rows = []
    for number, text in enumerate(zf.read(name).decode("utf-8").splitlines(), 1):
        if text.strip():
            try:
                rows.append(json.loads(text))
            except ValueError as exc:
                raise ExportUnreadable(f"{name} line {number} is not JSON") from exc
    return rows


def load_export(path: Path) -> LogExport:
    """:raises ExportUnreadable: not a readable ZIP with ``leaves.jsonl``."""
    try:
        with zipfile.ZipFile(path) as zf:
            if "leaves.jsonl" not in zf.namelist():
                raise ExportUnreadable(f"{path}: no leaves.jsonl (not a log export)")
            leaves = _jsonl(zf, "leaves.jsonl")
            audit = {int(r["seq"]): r for r in _jsonl(zf, "audit.jsonl") if "seq" in r}
            head = (
                json.loads(zf.read("tree-head.json")) if "tree-head.json" in zf.namelist() else None
            )
            roots = [
                zf.read(n) for n in zf.namelist() if n.startswith("pki/") and n.endswith(".pem")
            ]
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ExportUnreadable(f"{path} cannot be read ({exc})") from exc
    return LogExport(leaves, audit, head, roots)


def load_saved(path: Path) -> tuple[dict[str, Any], LogExport | None]:
    """A saved tree head (JSON) or an earlier export (ZIP): :returns: its head and, for
    an export, the export. :raises ExportUnreadable: neither."""
    if zipfile.is_zipfile(path):
        earlier = load_export(path)
        if earlier.head is None:
            raise ExportUnreadable(f"{path}: the export has no tree head")
        return earlier.head, earlier
    try:
        head = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExportUnreadable(f"{path} is not a tree head JSON ({exc})") from exc
    if not isinstance(head, dict) or "size" not in head or "root_hash" not in head:
        raise ExportUnreadable(f"{path}: no size and root_hash (not a tree head)")
    return head, None


@dataclass
class Scan:
    """The leaves read in order."""

    hashes: list[bytes] = field(default_factory=list)
    first_bad: int | None = None
    reason: str | None = None

    def bad(self, position: int, reason: str) -> None:
        """Record a bad entry; the lowest position wins."""
        if self.first_bad is None or position < self.first_bad:
            self.first_bad, self.reason = position, reason


def _name(leaf: dict[str, Any]) -> str:
    body = leaf.get("_body") or {}
    if body.get("kind") == "audit":
        return f"audit entry {body.get('seq')}"
    if body.get("kind") == "ledger":
        return f"ledger entry {body.get('id')}"
    return "entry"


def _positions(leaves: list[dict[str, Any]]) -> tuple[int, str] | None:
    """The first leaf not at the position it names (inside its hashed input).

    Two neighbours naming the same position mean one was inserted: the later one when
    the earlier is an audit entry and the later is not, else the earlier.
    """
    for pos, leaf in enumerate(leaves):
        body = leaf.get("_body") or {}
        claimed = body.get("idx")
        if claimed == pos and leaf.get("idx") == pos:
            continue
        if isinstance(claimed, int) and claimed > pos:
            return pos, (
                f"entry {pos}: the entry found here names position {claimed}: "
                f"the entry of position {pos} was deleted or moved"
            )
        if pos > 0 and claimed == pos - 1:
            earlier = leaves[pos - 1].get("_body") or {}
            blame = (
                pos if earlier.get("kind") == "audit" and body.get("kind") != "audit" else pos - 1
            )
            return blame, (
                f"entries {pos - 1} and {pos} both name position {pos - 1}: "
                f"entry {blame} ({_name(leaves[blame])}) was inserted"
            )
        return pos, f"entry {pos}: the entry found here names position {claimed}: moved or inserted"
    return None


def _seq_positions(leaves: list[dict[str, Any]]) -> dict[int, int]:
    """The last position of each audit sequence number (to tell a moved entry from a
    deleted one)."""
    found: dict[int, int] = {}
    for pos, leaf in enumerate(leaves):
        try:
            body = json.loads(str(leaf.get("data", "")))
        except ValueError:
            continue
        if (
            isinstance(body, dict)
            and body.get("kind") == "audit"
            and isinstance(body.get("seq"), int)
        ):
            found[body["seq"]] = pos
    return found


def scan(export: LogExport) -> Scan:
    """Read every leaf: position, numbering, audit content and chain."""
    result = Scan()
    expected_seq = 1
    prev: dict[str, Any] | None = None
    seen_seqs: set[int] = set()
    positions = _seq_positions(export.leaves)
    for pos, leaf in enumerate(export.leaves):
        data = str(leaf.get("data", ""))
        result.hashes.append(merkle.leaf_hash(data.encode()))
        try:
            body = json.loads(data)
        except ValueError:
            result.bad(pos, f"entry {pos}: the leaf input is not JSON")
            continue
        leaf["_body"] = body
        if body.get("kind") != "audit":
            if body.get("kind") != "ledger":
                result.bad(pos, f"entry {pos}: unknown kind {body.get('kind')!r}")
            continue
        seq = body.get("seq")
        if not isinstance(seq, int):
            result.bad(pos, f"entry {pos}: audit leaf without a sequence number")
            continue
        seen_seqs.add(seq)
        if seq != expected_seq:
            if seq < expected_seq:
                why = f"audit entry {seq} comes again or out of order (inserted or moved)"
            elif positions.get(expected_seq, -1) > pos:
                why = f"audit entry {expected_seq} is out of order (moved after entry {seq})"
            else:
                why = f"audit entry {expected_seq} is missing (deleted)"
            result.bad(pos, f"entry {pos}: {why}")
        row = export.audit.get(seq)
        if row is None:
            result.bad(pos, f"entry {pos}: audit entry {seq} is not in the export")
        else:
            recomputed = chain.entry_hash(row)
            intact = recomputed == row.get("hash") == body.get("sha256")
            if not intact:
                result.bad(
                    pos,
                    f"entry {pos} (audit entry {seq}) was rewritten: its content "
                    "does not hash to the hash its leaf records",
                )
            linked = row.get("prev_hash") == (prev["hash"] if prev else chain.GENESIS)
            if intact and not linked and prev is not None and seq == expected_seq:
                # This entry is intact, so its predecessor is the one that changed.
                before = prev.get("_pos", pos - 1)
                result.bad(
                    before,
                    f"entry {before} (audit entry {prev.get('seq')}) was "
                    "rewritten and re-hashed: the next entry links to another hash",
                )
            prev = dict(row, _pos=pos)
        expected_seq = seq + 1
    misplaced = _positions(export.leaves)
    if misplaced is not None:
        result.bad(*misplaced)
    extra = sorted(set(export.audit) - seen_seqs)
    if extra:
        result.bad(
            len(export.leaves), f"audit entry {extra[0]} is in the export but not in the log"
        )
    return result


def _head_lines(head: dict[str, Any], export: LogExport, hashes: list[bytes]) -> list[Line]:
    lines: list[Line] = []
    size = head.get("size")
    label = f"tree head #{head.get('id')} (size {size})"
    if not isinstance(size, int) or size > len(hashes):
        return [Line("FAIL", "log-head", f"{label}: the export has only {len(hashes)} entries")]
    root = merkle.root_of(hashes[:size]).hex()
    if root != head.get("root_hash"):
        lines.append(
            Line(
                "FAIL",
                "log-head",
                f"{label}: its entries hash to {root[:16]}…, not "
                f"the signed root {str(head.get('root_hash'))[:16]}…",
            )
        )
    else:
        lines.append(
            Line("OK", "log-head", f"{label}: root {root[:16]}… recomputed from the entries")
        )
    statement = str(head.get("statement", ""))
    try:
        said = json.loads(statement)
    except ValueError:
        said = {}
    if said.get("size") != size or said.get("root_hash") != head.get("root_hash"):
        lines.append(Line("FAIL", "log-head", f"{label}: the signed statement says otherwise"))
    lines.extend(_signature_lines(label, head, statement.encode(), export))
    return lines


def _signature_lines(
    label: str, head: dict[str, Any], data: bytes, export: LogExport
) -> list[Line]:
    lines: list[Line] = []
    roots = [c for pem in export.roots_pem for c in load_certs(pem)]
    signature = head.get("signature")
    if not signature:
        lines.append(Line("FAIL", "log-head", f"{label}: not signed"))
    else:
        try:
            der = base64.b64decode(str(signature), validate=True)
            signed = cms.ContentInfo.load(der)["content"]
            context = ValidationContext(trust_roots=roots, allow_fetching=False)
            status = asyncio.run(async_validate_detached_cms(data, signed, context))
            problem = None
            if not (status.intact and status.valid):
                problem = "the signature does not verify over the statement"
            elif not status.trusted:
                problem = "the signer does not chain to the export's root"
            signer = status.signing_cert.subject.human_friendly if status.signing_cert else "?"
        except (ValueError, TypeError, KeyError, binascii.Error) as exc:
            problem, signer = f"unreadable signature ({exc})", "?"
        if problem is None:
            lines.append(Line("OK", "log-head", f"{label}: signed by {signer}"))
        else:
            lines.append(Line("FAIL", "log-head", f"{label}: {problem}"))
    token_text = head.get("timestamp_token")
    if not token_text:
        lines.append(Line("WARN", "log-head", f"{label}: no timestamp token"))
        return lines
    digest = hashlib.sha256(data).digest()
    try:
        token = base64.b64decode(str(token_text), validate=True)
        tst = cms.ContentInfo.load(token)["content"]["encap_content_info"]["content"].parsed
        imprint = tst["message_imprint"]["hashed_message"].native
        gen_time = tst["gen_time"].native
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        return [*lines, Line("FAIL", "log-head", f"{label}: timestamp token unreadable ({exc})")]
    if imprint != digest:
        lines.append(Line("FAIL", "log-head", f"{label}: the token does not stamp the statement"))
    else:
        lines.append(
            Line("OK", "log-head", f"{label}: the RFC 3161 timestamp of {gen_time} stamps it")
        )
    return lines


def verify_log(export_path: Path, since: Path | None = None) -> list[Line]:
    """:returns: one line per check (``FAIL`` lines name the first bad entry).
    :raises ExportUnreadable: an input cannot be read at all."""
    export = load_export(export_path)
    lines: list[Line] = []
    result = scan(export)
    n = len(result.hashes)
    if result.first_bad is None:
        lines.append(
            Line("OK", "log-entries", f"{n} entries in place, audit entries intact and chained")
        )
    else:
        lines.append(
            Line("FAIL", "log-entries", f"first bad entry: {result.first_bad}: {result.reason}")
        )
    if export.head is None:
        lines.append(Line("FAIL", "log-head", "the export has no signed tree head"))
        return lines
    lines.extend(_head_lines(export.head, export, result.hashes))
    if since is None:
        return lines
    saved, earlier = load_saved(since)
    lines.extend(_consistency(saved, earlier, export.head, result))
    return lines


def _consistency(
    saved: dict[str, Any], earlier: LogExport | None, head: dict[str, Any], result: Scan
) -> list[Line]:
    """Today's log as its entries make it (its signed head is checked apart) against the
    saved head."""
    hashes = result.hashes
    m, new = saved.get("size"), len(hashes)
    label = f"consistency from the saved head (size {m}) to today's log ({new} entries)"
    if not isinstance(m, int) or m > new:
        return [
            Line("FAIL", "log-consistency", f"{label}: today's log is shorter than the saved head")
        ]
    try:
        old_root = bytes.fromhex(str(saved.get("root_hash")))
    except ValueError:
        return [Line("FAIL", "log-consistency", f"{label}: the saved root hash is not hex")]
    new_root = merkle.root_of(hashes)
    proof = merkle.consistency_proof(hashes, m) if 0 < m < new else []
    if merkle.verify_consistency(m, new, old_root, new_root, proof):
        return [
            Line(
                "OK",
                "log-consistency",
                f"{label}: today's log extends it (RFC 9162 proof of {len(proof)} hashes verified)",
            )
        ]
    where = _first_difference(earlier, hashes, m) if earlier is not None else None
    if where is None:
        where = result.first_bad if result.first_bad is not None and result.first_bad < m else None
    named = (
        f"; first bad entry: {where}"
        if where is not None
        else "; give the earlier export (--since OLD.zip) to name the first changed entry"
    )
    return [Line("FAIL", "log-consistency", f"{label}: today's log does NOT extend it{named}")]


def _first_difference(earlier: LogExport, hashes: list[bytes], m: int) -> int | None:
    old = [merkle.leaf_hash(str(leaf.get("data", "")).encode()) for leaf in earlier.leaves[:m]]
    for pos, h in enumerate(old):
        if pos >= len(hashes) or hashes[pos] != h:
            return pos
    return None if len(old) == m else len(old)


def bundle_lines(
    head: dict[str, Any] | None,
    proofs: list[dict[str, Any]],
    audit_rows: list[dict[str, Any]],
    ledger_rows: list[dict[str, Any]],
    roots_pem: list[bytes],
) -> list[Line]:
    """The transparency log part of an audit bundle: the signed tree head, and that every
    audit entry and ledger entry of the bundle is in the tree (its leaf recomputed from
    the bundle's own row, its inclusion proof checked against the head's root)."""
    if head is None:
        return [Line("WARN", "log", "the bundle carries no tree head of the transparency log")]
    label = f"tree head #{head.get('id')} (size {head.get('size')})"
    statement = str(head.get("statement", ""))
    lines = _signature_lines(label, head, statement.encode(), LogExport([], {}, head, roots_pem))
    try:
        said = json.loads(statement)
        root = bytes.fromhex(str(head.get("root_hash")))
        size = int(head["size"])
    except (ValueError, KeyError, TypeError):
        return [*lines, Line("FAIL", "log", f"{label}: unreadable")]
    if said.get("size") != size or said.get("root_hash") != head.get("root_hash"):
        lines.append(Line("FAIL", "log", f"{label}: the signed statement says otherwise"))
    audits = {str(r.get("seq")): r for r in audit_rows}
    ledgers = {str(r.get("id")): r for r in ledger_rows}
    proved: dict[str, set[str]] = {"audit": set(), "ledger": set()}
    bad = 0
    for p in proofs:
        kind, ref, entry = p.get("kind"), str(p.get("ref")), p.get("entry")
        row = (audits if kind == "audit" else ledgers).get(ref)
        if row is None or not isinstance(entry, int):
            continue
        if kind == "audit":
            body = {
                "idx": entry,
                "kind": "audit",
                "seq": row.get("seq"),
                "sha256": chain.entry_hash(row),
            }
        else:
            digest = hashlib.sha256(chain.ledger_line(row)).hexdigest()
            body = {"idx": entry, "kind": "ledger", "id": row.get("id"), "sha256": digest}
        leaf = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        path = [bytes.fromhex(h) for h in p.get("audit_path", [])]
        if leaf != p.get("leaf") or not merkle.verify_inclusion(
            entry, size, merkle.leaf_hash(leaf.encode()), path, root
        ):
            bad += 1
            if bad <= 5:
                lines.append(
                    Line("FAIL", "log", f"{kind} entry {ref}: not in the tree at entry {entry}")
                )
            continue
        proved[str(kind)].add(ref)
    missing_audit = sorted(set(audits) - proved["audit"], key=int)
    missing_ledger = sorted(set(ledgers) - proved["ledger"], key=int)
    if missing_audit:
        lines.append(
            Line("FAIL", "log", f"audit entry {missing_audit[0]} has no verified inclusion proof")
        )
    if missing_ledger:
        lines.append(
            Line("FAIL", "log", f"ledger entry {missing_ledger[0]} has no verified inclusion proof")
        )
    if not bad and not missing_audit and not missing_ledger:
        lines.append(
            Line(
                "OK",
                "log",
                f"{len(proved['audit'])} audit entries and {len(proved['ledger'])} ledger entries "
                f"are in the transparency log ({label}, root {str(head.get('root_hash'))[:16]}…)",
            )
        )
    return lines
