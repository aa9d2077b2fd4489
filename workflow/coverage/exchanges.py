"""workflow: what T1 counts, as pure rules over plain facts (no database): documents
exchanged between the bloc committee and other organisations, per delivery (the
headline) and per document.

Definitions:

- An **organisation** is a committee with its own register and seal: the bloc committee
  (the committee, its Standing Committee, office and boards are one organisation), a
  grassroots committee (with its sub-units), or an outside agency (named by the sender
  or recipient, outside the system's units).
- A **delivery** is one document sent to one recipient: a dispatch row (a unit of ours
  or an outside address), or a document that arrived from outside and was registered in
  an incoming register. Each says whether it was electronic (today every dispatch and
  every registered file is; paper ones are registered by the clerk).
- An **exchange** is a document going from one organisation to *another* one, where one
  of the two is the bloc committee: deliveries between the bloc committee's own organs
  (a dispatch to its office) are not exchanges, nor are documents between other
  organisations (a grassroots committee's own business). A document sent to several
  organs of one organisation is one exchange with it.
- **T1 per delivery** (target ``T1``, the headline figure: "count a document once per
  exchange"): each exchange (a document and a receiving organisation) counts once, for
  the sending unit when it is one of ours, else for the receiving unit, ``electronic``
  or ``missing`` (on paper); classified: ``exempt``. A document the bloc committee
  issued and has not sent anywhere yet counts as one expected delivery: ``pending``
  (awaiting dispatch) until the grace period ends (``CoveragePolicy.dispatch_deadline``),
  then ``missing``; ``internal`` once it is clear it is not an exchange (dispatched only
  within the bloc committee, recalled before any dispatch) or once its exchanges count.
- **T1 per document** (target ``T1D``): each exchanged document counts once, whatever
  the number of its recipients: ``electronic`` when every exchange of it is electronic,
  ``missing`` when one went on paper; not yet dispatched: as above.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from workflow.coverage.rules import BLOC_KINDS

ISSUER_KINDS = ("committee", "grassroots")
"""Kinds of the units that are organisations of their own (with a register and seal)."""


class UnitFacts(Protocol):
    """What the rules need of a unit (a ``storage.models.Unit`` has it)."""

    id: int
    kind: str
    parent_id: int | None
    name: str


@dataclass(frozen=True)
class Party:
    """One end of an exchange."""

    organisation: str
    """``unit:<id>`` of the committee the unit belongs to, or ``outside:<name>``."""
    bloc: bool
    """It is the bloc committee (one of its organs)."""
    unit_id: int | None = None
    """The unit, when it is one of ours."""


def organisation_id(units: Mapping[int, UnitFacts], unit_id: int) -> int:
    """:returns: the id of the committee ``unit_id`` belongs to (itself for a committee)."""
    current = units.get(unit_id)
    seen: set[int] = set()
    while current is not None and current.id not in seen:
        if current.kind in ISSUER_KINDS:
            return current.id
        seen.add(current.id)
        current = units.get(current.parent_id) if current.parent_id is not None else None
    return unit_id


def is_bloc(units: Mapping[int, UnitFacts], unit_id: int) -> bool:
    """:returns: whether a unit is one of the bloc committee's organs (an organ of the
    bloc's kinds whose committee is a ``committee``, not a grassroots one)."""
    unit = units.get(unit_id)
    committee = units.get(organisation_id(units, unit_id))
    return (
        unit is not None
        and unit.kind in BLOC_KINDS
        and committee is not None
        and committee.kind == "committee"
    )


def bloc_unit_ids(units: Mapping[int, UnitFacts]) -> set[int]:
    """:returns: the ids of the bloc committee's organs."""
    return {u for u in units if is_bloc(units, u)}


def unit_party(units: Mapping[int, UnitFacts], unit_id: int) -> Party:
    """:returns: the party of one of our units."""
    return Party(f"unit:{organisation_id(units, unit_id)}", is_bloc(units, unit_id), unit_id)


def outside_party(name: str | None) -> Party:
    """:returns: an organisation outside the system's units, by its name or address."""
    key = " ".join((name or "").lower().split()) or "?"
    return Party(f"outside:{key}", False, None)


def is_exchange(sender: Party, receiver: Party) -> bool:
    """:returns: whether a document from ``sender`` to ``receiver`` is an exchange of T1:
    two different organisations, one of them the bloc committee."""
    return sender.organisation != receiver.organisation and (sender.bloc or receiver.bloc)


def counted_unit(sender: Party, receiver: Party) -> int | None:
    """:returns: the unit an exchange counts for: the sender when it is one of ours,
    else the receiver."""
    return sender.unit_id if sender.unit_id is not None else receiver.unit_id


@dataclass(frozen=True)
class Delivery:
    """One document sent to one recipient."""

    subject_kind: str
    """``dispatch`` (a dispatch row) or ``incoming`` (an incoming register entry)."""
    subject_id: int
    """The row's id."""
    receiver: Party
    """Who it went to."""
    at: datetime
    """When it was sent (dispatched, or received from outside)."""
    electronic: bool
    """Sent electronically (False: on paper, registered by the clerk)."""
    name: str = ""
    """The recipient's name, for the drill-down."""


@dataclass(frozen=True)
class Exchange:
    """A document delivered to one other organisation: its deliveries there, once."""

    receiver: Party
    """The first receiving unit (or outside organisation)."""
    subject_kind: str
    """Of its first delivery (the ledger entry's subject)."""
    subject_id: int
    """Of its first delivery."""
    at: datetime
    """The first delivery's time."""
    electronic: bool
    """At least one delivery to that organisation was electronic."""
    name: str = ""
    """The first recipient's name."""


def exchanges(sender: Party, deliveries: Iterable[Delivery]) -> list[Exchange]:
    """:returns: the exchanges of a document sent by ``sender``, one per receiving
    organisation, in the order of their first delivery."""
    by_org: dict[str, list[Delivery]] = {}
    for d in sorted(deliveries, key=lambda d: (d.at, d.subject_kind, d.subject_id)):
        if is_exchange(sender, d.receiver):
            by_org.setdefault(d.receiver.organisation, []).append(d)
    out = []
    for group in by_org.values():
        first = group[0]
        out.append(
            Exchange(
                first.receiver,
                first.subject_kind,
                first.subject_id,
                first.at,
                any(d.electronic for d in group),
                first.name,
            )
        )
    return out


@dataclass(frozen=True)
class Verdict:
    """How a document (or one of its exchanges) counts for T1."""

    state: str
    """A ledger state of ``T1``/``T1D``."""
    at: datetime
    """The moment it counts on."""
    reason: str | None = None
    """Why it is not met (Vietnamese), for the drill-down."""


def document_verdict(
    *,
    sender: Party,
    issued_at: datetime,
    classified: bool,
    recalled: bool,
    deliveries: Iterable[Delivery],
    deadline: date | None,
    today: date | None,
    previous: str | None = None,
) -> Verdict | None:
    """:param sender: the issuing unit's party.
    :param deadline: the last day the document may await dispatch
        (``CoveragePolicy.dispatch_deadline`` of its issue date).
    :param today: today in Vietnam time; None: do not decide the grace period now (a
        use-case's hook: the scheduled refresh decides), keep ``previous`` if it was
        ``missing``, else ``pending``.
    :param previous: the state recorded so far, if any.
    :returns: the document's T1 verdict, or None when it is outside T1 (another
        organisation's document that the bloc committee is not party to).
    """
    deliveries = list(deliveries)
    found = exchanges(sender, deliveries)
    if classified:
        if found or sender.bloc:
            return Verdict("exempt", found[0].at if found else issued_at)
        return None
    if found:
        paper = [e for e in found if not e.electronic]
        if not paper:
            return Verdict("electronic", found[0].at)
        return Verdict(
            "missing",
            found[0].at,
            f"Gửi bằng giấy đến {len(paper)}/{len(found)} cơ quan, đơn vị nhận.",
        )
    if not sender.bloc:
        return None
    if deliveries:
        return Verdict(
            "internal", issued_at, "Chỉ gửi trong nội bộ cơ quan Đảng ủy Khối (không trao đổi)."
        )
    if recalled:
        return Verdict("internal", issued_at, "Đã thu hồi trước khi phát hành (không trao đổi).")
    waiting = f"Chờ phát hành: hạn gửi {deadline:%d/%m/%Y}." if deadline else "Chờ phát hành."
    if today is None or deadline is None:
        if previous == "missing":
            return Verdict("missing", issued_at, "Chưa phát hành (gửi) quá thời hạn.")
        return Verdict("pending", issued_at, waiting)
    if today <= deadline:
        return Verdict("pending", issued_at, waiting)
    return Verdict(
        "missing",
        issued_at,
        f"Chưa phát hành (gửi) đến cơ quan, đơn vị nhận; hạn gửi là {deadline:%d/%m/%Y}.",
    )


def exchange_verdict(exchange: Exchange, classified: bool) -> Verdict:
    """:returns: how one exchange counts (``T1``, per delivery)."""
    if classified:
        return Verdict("exempt", exchange.at)
    if exchange.electronic:
        return Verdict("electronic", exchange.at)
    return Verdict("missing", exchange.at, f"Gửi bằng bản giấy đến {exchange.name}.")
