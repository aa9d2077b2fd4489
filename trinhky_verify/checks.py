"""The checks of an audit bundle, one :class:`Line` each."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from asn1crypto import cms, crl

from trinhky_verify import chain, figures, logs, pdfsig, tlog
from trinhky_verify.lines import Line

EXPORTED = "bundle:exported"
CHAIN_FILES = ("audit.jsonl", "checkpoints.jsonl", "log/tree-head.json", "log/proofs.jsonl")
"""Written after the export's audit entry: not covered by its ``content_sha256``
(workflow/bundle.py)."""


class BundleUnreadable(Exception):
    """The file is not a bundle at all (not a ZIP, no readable manifest)."""


def summary(lines: list[Line]) -> tuple[str, bool]:
    """:returns: the summary line and whether the bundle verified."""
    failed = sum(1 for line in lines if line.status == "FAIL")
    warned = sum(1 for line in lines if line.status == "WARN")
    passed = sum(1 for line in lines if line.status == "OK")
    verdict = "VERIFIED" if not failed else "NOT VERIFIED"
    return (
        f"SUMMARY: {passed} passed, {failed} failed, {warned} warnings: bundle {verdict}",
        not failed,
    )


def content_digest(files: dict[str, dict[str, Any]]) -> str:
    """Same as workflow.audit.bundle.content_digest: sha256 over ``"<sha256>  <name>\\n"``, sorted."""
    lines = "".join(f"{files[n]['sha256']}  {n}\n" for n in sorted(files))
    return hashlib.sha256(lines.encode()).hexdigest()


class _Bundle:
    def __init__(self, path: Path) -> None:
        try:
            self.zf = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise BundleUnreadable(f"{path} is not a readable ZIP file ({exc})") from exc
        self.names = {i.filename for i in self.zf.infolist() if not i.is_dir()}
        if "manifest.json" not in self.names:
            raise BundleUnreadable("manifest.json is missing")
        try:
            self.manifest: dict[str, Any] = json.loads(self.zf.read("manifest.json"))
        except (ValueError, zipfile.BadZipFile) as exc:
            raise BundleUnreadable(f"manifest.json cannot be read ({exc})") from exc
        if not isinstance(self.manifest, dict) or not isinstance(self.manifest.get("files"), list):
            raise BundleUnreadable("manifest.json has no file list")

    def read(self, name: str) -> bytes | None:
        if name not in self.names:
            return None
        try:
            return self.zf.read(name)
        except (zipfile.BadZipFile, OSError):  # CRC error: a changed byte in the archive
            return None

    def jsonl(self, name: str) -> list[dict[str, Any]] | str:
        data = self.read(name)
        if data is None:
            return f"{name} is missing or unreadable"
        rows = []
        for number, text in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except ValueError:
                return f"{name} line {number} is not JSON"
            if not isinstance(row, dict):
                return f"{name} line {number} is not a JSON object"
            rows.append(row)
        return rows


def _parse_time(text: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _manifest(b: _Bundle) -> Iterator[Line]:
    listed: dict[str, dict[str, Any]] = {}
    bad = 0
    for entry in b.manifest["files"]:
        name = str(entry.get("name"))
        listed[name] = entry
        data = b.read(name)
        if name not in b.names:
            bad += 1
            yield Line("FAIL", "manifest", f"{name} is listed but missing from the bundle")
        elif data is None:
            bad += 1
            yield Line("FAIL", "manifest", f"{name} is damaged (cannot be read from the ZIP)")
        else:
            digest = hashlib.sha256(data).hexdigest()
            if digest != entry.get("sha256"):
                bad += 1
                yield Line(
                    "FAIL",
                    "manifest",
                    f"{name} changed: SHA-256 {digest} differs from the manifest's "
                    f"{entry.get('sha256')}",
                )
            elif len(data) != entry.get("size"):
                bad += 1
                yield Line("FAIL", "manifest", f"{name} size {len(data)} != {entry.get('size')}")
    for name in sorted(b.names - set(listed) - {"manifest.json"}):
        bad += 1
        yield Line("FAIL", "manifest", f"{name} is in the bundle but not in the manifest")
    if not bad:
        yield Line("OK", "manifest", f"{len(listed)} files present, SHA-256 and sizes match")


def _export_record(b: _Bundle, audit_rows: list[dict[str, Any]]) -> Iterator[Line]:
    files = {str(e.get("name")): e for e in b.manifest["files"] if e.get("name") not in CHAIN_FILES}
    digest = content_digest(files)
    info = b.manifest.get("audit") or {}
    exports = [r for r in audit_rows if r.get("action") == EXPORTED]
    if not exports:
        yield Line("FAIL", "export", "audit.jsonl holds no bundle:exported entry")
        return
    last = exports[-1]
    details = last.get("details") or {}
    recorded = details.get("content_sha256")
    if recorded != digest:
        yield Line(
            "FAIL",
            "export",
            f"audit entry {last.get('seq')} records content SHA-256 {recorded}, but the "
            f"manifest's files give {digest}",
        )
    elif info.get("export_seq") != last.get("seq") or info.get("export_hash") != last.get("hash"):
        yield Line("FAIL", "export", "the manifest names another export entry than audit.jsonl")
    else:
        yield Line(
            "OK",
            "export",
            f"audit entry {last.get('seq')} ({last.get('at')}) records this export "
            f"(content SHA-256 {digest[:16]}…, entry hash {str(last.get('hash'))[:16]}…)",
        )
    if audit_rows and audit_rows[-1] is not last:
        yield Line("WARN", "export", "entries follow the export entry in audit.jsonl")


def _pki(b: _Bundle) -> tuple[pdfsig.Pki | None, list[Line]]:
    lines: list[Line] = []
    root = b.read("pki/root.pem")
    if root is None:
        return None, [Line("FAIL", "pki", "pki/root.pem is missing: nothing to trust")]
    try:
        roots = pdfsig.load_certs(root)
        others = []
        for name in sorted(n for n in b.names if n.startswith("pki/") and n.endswith(".pem")):
            if name != "pki/root.pem":
                others += pdfsig.load_certs(b.read(name) or b"")
        crls = [
            crl.CertificateList.load(b.read(n) or b"")
            for n in sorted(n for n in b.names if n.startswith("pki/") and n.endswith(".crl"))
        ]
        for c in crls:
            c.native  # noqa: B018 - parse now, fail here on garbage
    except (ValueError, TypeError) as exc:
        return None, [Line("FAIL", "pki", f"cannot parse the PKI files: {exc}")]
    for r in roots:
        fingerprint = hashlib.sha256(r.dump()).hexdigest()
        lines.append(
            Line(
                "INFO",
                "pki",
                f"trust root {r.subject.human_friendly}, SHA-256 {fingerprint} "
                "(compare it with the organisation's published root out of band)",
            )
        )
    lines.append(
        Line("OK", "pki", f"{len(roots)} root, {len(others)} other certificates, {len(crls)} CRLs")
    )
    return pdfsig.Pki(roots, others, crls), lines


def _notes(notes: list[str], limit: int = 240) -> str:
    """The library's notes on one check, shortened (in full with ``--log FILE``)."""
    shown = [n if len(n) <= limit else n[: limit - 1] + "…" for n in notes[:4]]
    more = f" (+{len(notes) - 4} more)" if len(notes) > 4 else ""
    return (
        f"{len(notes)} note(s) logged by pyHanko while validating (not a verdict; the "
        "lines above are): " + " | ".join(shown) + more
    )


def _documents(
    b: _Bundle, pki: pdfsig.Pki | None, moment: datetime, now: datetime
) -> tuple[dict[int, str], Iterator[Line]]:
    docs = b.manifest.get("documents") or []
    hashes: dict[int, str] = {}

    def run() -> Iterator[Line]:
        for doc in docs:
            doc_id, name = int(doc.get("id")), str(doc.get("file"))
            label = f"document #{doc_id} ({doc.get('symbol')})"
            data = b.read(name)
            if data is None:
                yield Line("FAIL", "signatures", f"{label}: {name} is missing from the bundle")
                continue
            hashes[doc_id] = hashlib.sha256(data).hexdigest()
            if pki is None:
                yield Line("FAIL", "signatures", f"{label}: not validated (no trust root)")
                continue
            with logs.collected() as notes:
                result = pdfsig.validate(data, pki, moment, now)
            if result.ok:
                names = ", ".join(f"{s.field} ({s.signer or s.kind})" for s in result.signatures)
                yield Line(
                    "OK",
                    "signatures",
                    f"{label}: {len(result.signatures)} signatures intact, valid, trusted by "
                    f"the bundle root, not revoked, last covers the file, at "
                    f"{moment.isoformat()}: {names}",
                )
            else:
                reasons = [result.error] if result.error else list(result.problems)
                yield Line("FAIL", "signatures", f"{label}: " + "; ".join(reasons))
            if result.lta and all(passed for _, passed, _ in result.lta):
                yield Line(
                    "OK",
                    "long-term",
                    f"{label}: AdES LTA validation now, from the file alone: "
                    + ", ".join(f"{f} {i}" for f, _, i in result.lta),
                )
            elif result.lta:
                kind = (
                    "PAdES B-LTA"
                    if result.has_doc_timestamp
                    else "no document timestamp (PAdES B-LT, not B-LTA)"
                )
                yield Line(
                    "WARN",
                    "long-term",
                    f"{label}: {kind}; AdES LTA validation now, from the file alone, gives "
                    + ", ".join(f"{f} {i}" for f, _, i in result.lta)
                    + "; what was checked is the validation above at the export time, with "
                    "the bundle's CRLs and the revocation data in the PDF's DSS",
                )
            if notes:
                yield Line("INFO", "pyhanko", f"{label}: {_notes(notes)}")
            report = b.read(f"reports/{doc_id}.json")
            if report is not None:
                try:
                    stated = json.loads(report).get("bottom_line")
                except (ValueError, AttributeError):
                    stated = None
                if stated is not None and bool(stated) != result.ok:
                    yield Line(
                        "FAIL",
                        "report",
                        f"{label}: the server's report says bottom_line={stated}, "
                        f"the verifier finds {result.ok}",
                    )

    return hashes, run()


def _ledger(b: _Bundle, rows: list[dict[str, Any]], pdf_hashes: dict[int, str]) -> Iterator[Line]:
    scope = b.manifest.get("scope") or {}
    unit_ids = {int(u) for u in scope.get("unit_ids") or []}
    period = b.manifest.get("period") or {}
    start, end = str(period.get("start")), str(period.get("end"))
    listed = {int(d["id"]): d for d in b.manifest.get("documents") or []}
    bad = 0
    checked = 0
    for row in rows:
        where = f"entry #{row.get('id')} ({row.get('target')} {row.get('subject_kind')} #{row.get('subject_id')})"
        if row.get("unit_id") not in unit_ids or not start <= str(row.get("period_date")) <= end:
            bad += 1
            yield Line("FAIL", "ledger", f"{where} is outside the bundle's unit and period")
        sha = row.get("pdf_sha256")
        if not sha or row.get("subject_kind") != "document":
            continue
        checked += 1
        doc_id = int(row["subject_id"])
        if doc_id not in listed or doc_id not in pdf_hashes:
            bad += 1
            yield Line(
                "FAIL",
                "ledger",
                f"{where} ({row.get('label')}): its PDF is missing from the bundle",
            )
        elif pdf_hashes[doc_id] != sha:
            bad += 1
            yield Line(
                "FAIL",
                "ledger",
                f"{where} ({row.get('label')}): PDF SHA-256 {pdf_hashes[doc_id]} does not match "
                f"the ledger's pdf_sha256 {sha}",
            )
    for doc_id, doc in listed.items():
        if doc_id in pdf_hashes and doc.get("recorded_sha256") != pdf_hashes[doc_id]:
            bad += 1
            yield Line(
                "FAIL",
                "ledger",
                f"document #{doc_id}: PDF SHA-256 differs from the revision hash recorded at issue",
            )
    if not bad:
        yield Line(
            "OK",
            "ledger",
            f"{len(rows)} entries in scope; {checked} PDFs match their ledger pdf_sha256",
        )


def _audit(
    b: _Bundle, rows: list[dict[str, Any]], pki: pdfsig.Pki | None, moment: datetime
) -> Iterator[Line]:
    cps = b.jsonl("checkpoints.jsonl")
    if isinstance(cps, str):
        yield Line("FAIL", "checkpoints", cps)
        cps = []
    if not rows:
        yield Line("FAIL", "audit", "audit.jsonl is empty")
        return
    first = rows[0]
    try:
        first_seq = int(first["seq"])
    except (KeyError, TypeError, ValueError):
        yield Line("FAIL", "audit", "audit.jsonl: the first row has no sequence number")
        return
    anchor = None
    if first_seq == 1:
        prev = chain.GENESIS
        start_text = "the genesis"
    else:
        anchor = next((c for c in cps if c.get("seq") == first_seq), None)
        if anchor is None:
            yield Line(
                "FAIL",
                "audit",
                f"the slice starts at entry {first_seq} but no checkpoint anchors it",
            )
            return
        prev = str(first.get("prev_hash"))  # before the slice: taken from the anchored entry
        start_text = f"checkpoint #{anchor.get('id')} at entry {first_seq}"
    hashes: dict[int, str] = {}
    expected = first_seq
    broken: str | None = None
    for row in rows:
        try:
            seq = int(row["seq"])
            digest = chain.entry_hash(row)
        except (KeyError, TypeError, ValueError) as exc:
            broken = f"entry after {expected - 1} is malformed ({exc})"
            break
        if seq != expected:
            broken = f"entry {expected} is missing (found {seq})"
            break
        if row.get("prev_hash") != prev:
            broken = f"entry {seq} does not link to entry {seq - 1} (broken link)"
            break
        if digest != row.get("hash"):
            broken = (
                f"entry {seq} altered: stored hash {str(row.get('hash'))[:16]}…, "
                f"recomputed {digest[:16]}…"
            )
            break
        hashes[seq] = digest
        prev = digest
        expected += 1
    if broken:
        yield Line("FAIL", "audit", f"chain broken: {broken}")
    else:
        yield Line(
            "OK",
            "audit",
            f"{len(rows)} entries {first_seq}..{expected - 1} link and hash correctly from "
            f"{start_text} (head {prev[:16]}…)",
        )
    stamped: list[tuple[int, Any, Any]] = []
    """(seq, checkpoint id, genTime) of the checkpoints whose token verified."""
    if not cps:
        yield Line("WARN", "checkpoints", "no checkpoint in the bundle: the chain is not anchored")
    yield from _checkpoints(cps, hashes, first_seq, pki, moment, stamped)
    if not broken:
        yield from _ledger_heads(rows, stamped)


def _checkpoints(
    cps: list[dict[str, Any]],
    hashes: dict[int, str],
    first_seq: int,
    pki: pdfsig.Pki | None,
    moment: datetime,
    stamped: list[tuple[int, Any, Any]],
) -> Iterator[Line]:
    for cp in cps:
        at_seq: Any = cp.get("seq")
        head = str(cp.get("head_hash"))
        label = f"checkpoint #{cp.get('id')} (entry {at_seq}, {cp.get('created_at')})"
        if not isinstance(at_seq, int) or at_seq < first_seq - 1:
            yield Line("INFO", "checkpoints", f"{label}: before the slice, not checked")
            continue
        if at_seq == 0:
            ok = head == chain.GENESIS
        elif at_seq in hashes:
            ok = hashes[at_seq] == head
        else:
            yield Line(
                "FAIL", "checkpoints", f"{label}: the slice does not reach or verify entry {at_seq}"
            )
            continue
        if not ok:
            yield Line(
                "FAIL",
                "checkpoints",
                f"{label}: head hash {head[:16]}… differs from the recomputed chain",
            )
            continue
        token_text = cp.get("timestamp_token")
        if not token_text:
            yield Line("OK", "checkpoints", f"{label}: matches the chain (no timestamp token)")
            continue
        try:
            token = base64.b64decode(str(token_text), validate=True)
            signed = cms.ContentInfo.load(token)["content"]
            tst = signed["encap_content_info"]["content"].parsed
            algorithm = tst["message_imprint"]["hash_algorithm"]["algorithm"].native
            imprint = tst["message_imprint"]["hashed_message"].native
            gen_time = tst["gen_time"].native
        except (ValueError, TypeError, KeyError, binascii.Error) as exc:
            yield Line("FAIL", "checkpoints", f"{label}: timestamp token unreadable ({exc})")
            continue
        if algorithm != "sha256" or imprint != chain.checkpoint_digest(head):
            yield Line(
                "FAIL",
                "checkpoints",
                f"{label}: the timestamp token's imprint does not cover its head hash",
            )
            continue
        problem: str | None
        notes: list[str] = []
        if pki is None:
            problem = "no PKI in the bundle to check it against"
        else:
            with logs.collected() as notes:
                problem = pdfsig.token_signature(token, chain.checkpoint_digest(head), pki, moment)
        if notes:
            yield Line("INFO", "pyhanko", f"{label}: {_notes(notes)}")
        if problem is None:
            stamped.append((at_seq, cp.get("id"), gen_time))
            yield Line(
                "OK",
                "checkpoints",
                f"{label}: matches the chain; RFC 3161 token of {gen_time} stamps its head, "
                "signed by a TSA of the bundle's PKI",
            )
        else:  # a token no TSA of the bundle's PKI signed proves nothing
            yield Line("FAIL", "checkpoints", f"{label}: timestamp token: {problem}")


def _ledger_heads(
    rows: list[dict[str, Any]], stamped: list[tuple[int, Any, Any]]
) -> Iterator[Line]:
    """The ``ledger:head`` entries of the slice (the ledger's digest, chained in the audit
    log): each must be followed by a checkpoint whose RFC 3161 token verified."""
    heads = [r for r in rows if r.get("action") == chain.LEDGER_HEAD]
    if not heads:
        yield Line("INFO", "ledger-heads", "no ledger head recorded in the audit slice")
        return
    covered: list[tuple[dict[str, Any], tuple[int, Any, Any]]] = []
    for row in heads:
        details = row.get("details") if isinstance(row.get("details"), dict) else {}
        assert isinstance(details, dict)  # noqa: S101 - narrowed above
        label = (
            f"ledger head at entry {row.get('seq')} ({details.get('entries')} entries, "
            f"SHA-256 {str(details.get('sha256'))[:16]}…)"
        )
        if details.get("format") != chain.LEDGER_HEAD_FORMAT:
            yield Line("FAIL", "ledger-heads", f"{label}: unknown format {details.get('format')!r}")
            continue
        stamp = next((s for s in stamped if s[0] >= int(row["seq"])), None)
        if stamp is None:
            yield Line("WARN", "ledger-heads", f"{label}: not yet under a timestamped checkpoint")
            continue
        covered.append((details, stamp))
    if covered:
        details, (_seq, cp_id, gen_time) = covered[-1]
        yield Line(
            "OK",
            "ledger-heads",
            f"{len(covered)} of {len(heads)} ledger heads are under a verified RFC 3161 token; "
            f"the newest ({details.get('entries')} entries, SHA-256 "
            f"{str(details.get('sha256'))[:16]}…) by checkpoint #{cp_id} of {gen_time}",
        )


def _figures(b: _Bundle, rows: list[dict[str, Any]]) -> Iterator[Line]:
    data = b.read("figures.json")
    if data is None:
        yield Line("FAIL", "figures", "figures.json is missing")
        return
    try:
        document = json.loads(data)
        stated = document["figures"]
        targets = (document.get("policy") or {}).get("targets")
    except (ValueError, KeyError, TypeError, AttributeError):
        yield Line("FAIL", "figures", "figures.json cannot be read")
        return
    scope = b.manifest.get("scope") or {}
    kinds = {int(k): str(v.get("kind")) for k, v in (scope.get("units") or {}).items()}
    try:
        year = date.fromisoformat(str((b.manifest.get("period") or {}).get("start"))).year
    except ValueError:
        yield Line("FAIL", "figures", "the manifest's period has no start date")
        return
    try:
        computed = figures.recompute(rows, kinds, year, targets)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        yield Line("FAIL", "figures", f"the stated targets cannot be read ({exc})")
        return
    source = "the bundle's stated targets" if targets else "the seed's targets"
    yield Line("INFO", "figures", f"targets of {year} from {source}")
    for target in figures.TARGETS:
        mine, theirs = computed[target], stated.get(target) or {}
        diffs = figures.differences(theirs, mine)
        if target == "T1":
            for measure in ("deliveries", "documents"):
                diffs += [
                    f"{measure} {d}"
                    for d in figures.differences(theirs.get(measure) or {}, mine.get(measure) or {})
                ]
        if target == "T3":
            for level, fig in (mine.get("levels") or {}).items():
                other = (theirs.get("levels") or {}).get(level) or {}
                diffs += [f"{level} {d}" for d in figures.differences(other, fig)]
            extra = set(theirs.get("levels") or {}) - set(mine.get("levels") or {})
            diffs += [f"{level}: stated but not in scope" for level in sorted(extra)]
        if diffs:
            yield Line(
                "FAIL",
                "figures",
                f"{target}: stated figure does not match the ledger: " + "; ".join(diffs),
            )
        else:
            per_document = (
                f"; per document {figures.percent(mine['documents'])}" if target == "T1" else ""
            )
            yield Line(
                "OK",
                "figures",
                f"{target}: {figures.percent(mine)} (target {mine['target']}, met {mine['met']})"
                f"{per_document} recomputed from ledger.jsonl equals the stated figure",
            )


def verify_bundle(path: Path, *, now: datetime | None = None) -> list[Line]:
    """Run every check on the bundle at ``path``.

    :raises BundleUnreadable: not a ZIP, or no readable manifest.
    :returns: the result lines in order.
    """
    b = _Bundle(path)
    now = now or datetime.now(UTC)
    m = b.manifest
    lines = [
        Line(
            "INFO",
            "bundle",
            f"{m.get('server')} {m.get('server_version')} bundle of unit {m.get('unit') or 'all'} "
            f"period {(m.get('period') or {}).get('code')}, created {m.get('created_at')} by "
            f"{m.get('created_by') or 'the command line'}",
        )
    ]
    moment = _parse_time(m.get("created_at")) or now
    lines += list(_manifest(b))
    audit_rows = b.jsonl("audit.jsonl")
    if isinstance(audit_rows, str):
        lines.append(Line("FAIL", "audit", audit_rows))
        audit_rows = []
    lines += list(_export_record(b, audit_rows))
    pki, pki_lines = _pki(b)
    lines += pki_lines
    pdf_hashes, doc_lines = _documents(b, pki, moment, now)
    lines += list(doc_lines)
    ledger_rows = b.jsonl("ledger.jsonl")
    if isinstance(ledger_rows, str):
        lines.append(Line("FAIL", "ledger", ledger_rows))
        ledger_rows = []
    lines += list(_ledger(b, ledger_rows, pdf_hashes))
    lines += list(_audit(b, audit_rows, pki, moment))
    lines += list(_figures(b, ledger_rows))
    lines += _log(b, audit_rows, ledger_rows)
    return lines


def _log(
    b: _Bundle, audit_rows: list[dict[str, Any]], ledger_rows: list[dict[str, Any]]
) -> list[Line]:
    raw = b.read("log/tree-head.json")
    try:
        head = json.loads(raw) if raw is not None else None
    except ValueError:
        return [Line("FAIL", "log", "log/tree-head.json is not JSON")]
    proofs = b.jsonl("log/proofs.jsonl") if head is not None else []
    if isinstance(proofs, str):
        return [Line("FAIL", "log", proofs)]
    roots = [data for name in ("pki/root.pem",) if (data := b.read(name)) is not None]
    return tlog.bundle_lines(head, proofs, audit_rows, ledger_rows, roots)
