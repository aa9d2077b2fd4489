"""storage: the ledger's summary counts, one row per (month, target, unit, state,
document type), kept equal to ``COUNT(*)`` over the ledger entries.

The dashboard reads these few rows instead of scanning the entries of a whole year.
They are maintained by session events in the transaction that writes the entries:

- after each successful flush, the flushed entries' old and new keys become +1/-1
  deltas; a flush inside a savepoint applies them at once (they roll back with it);
- at the commit of the outermost transaction, the pending deltas are applied in one
  ``INSERT .. ON CONFLICT DO UPDATE SET entries = entries + delta``, keys sorted. The
  counter rows are therefore locked only between the last flush and ``COMMIT``, always
  in the same order (no deadlock between two writers on PostgreSQL; SQLite has a single
  writer anyway), and an increment never reads a stale value;
- a rollback drops the pending deltas.

Writes that bypass the ORM unit of work (Core ``insert()``/``update()`` on
``ledger_entries``, bulk loads) must call :func:`rebuild_counts` afterwards;
:func:`count_drift` lists the keys where the counts and the entries disagree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date
from typing import Any, cast

from sqlalchemy import (
    ForeignKey,
    Integer,
    String,
    Table,
    delete,
    event,
    extract,
    func,
    inspect,
    literal,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column

from storage.db import Base

KEY_ATTRIBUTES = ("period_date", "target", "unit_id", "state", "doc_type")
"""The attributes of a ledger entry that decide its counter row."""

Key = tuple[int, str, int, str, str]
"""``(period_month, target, unit_id, state, doc_type or "")``."""

_PENDING = "trinhky.ledger_counts.pending"


class LedgerCount(Base):
    """How many ledger entries count in one month for one target, unit, state and
    document type."""

    __tablename__ = "ledger_counts"

    period_month: Mapped[int] = mapped_column(Integer, primary_key=True)
    """Year * 100 + month of the entries' ``period_date`` (``202609``)."""
    target: Mapped[str] = mapped_column(String(4), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), primary_key=True)
    doc_type: Mapped[str] = mapped_column(String(8), primary_key=True)
    """The entries' document type, ``""`` for none (a key column cannot be NULL)."""
    entries: Mapped[int] = mapped_column(Integer)
    """Number of entries (0 once they all moved to another key)."""


COUNTS = cast(Table, LedgerCount.__table__)
KEY_COLUMNS = ("period_month", "target", "unit_id", "state", "doc_type")


def month_of(day: date) -> int:
    """:returns: ``day``'s month as ``year * 100 + month``."""
    return day.year * 100 + day.month


def _key(values: dict[str, Any]) -> Key:
    return (
        month_of(values["period_date"]),
        values["target"],
        values["unit_id"],
        values["state"],
        values["doc_type"] or "",
    )


def _old_values(obj: Any) -> dict[str, Any] | None:
    """The key attributes as the database has them (before this flush)."""
    attrs = inspect(obj).attrs
    out: dict[str, Any] = {}
    for name in KEY_ATTRIBUTES:
        history = attrs[name].history
        if history.deleted:
            out[name] = history.deleted[0]
        elif history.unchanged:
            out[name] = history.unchanged[0]
        elif history.added:  # changed but the old value was never loaded
            raise RuntimeError(f"ledger entry: old value of {name} unknown")
        else:
            out[name] = getattr(obj, name)
    return out


def _deltas(session: Session, entry_class: type) -> Counter[Key]:
    deltas: Counter[Key] = Counter()
    for obj in session.new:
        if isinstance(obj, entry_class):
            deltas[_key({n: getattr(obj, n) for n in KEY_ATTRIBUTES})] += 1
    for obj in session.dirty:
        if isinstance(obj, entry_class) and session.is_modified(obj):
            old = _old_values(obj)
            new = {n: getattr(obj, n) for n in KEY_ATTRIBUTES}
            if old is not None and _key(old) != _key(new):
                deltas[_key(old)] -= 1
                deltas[_key(new)] += 1
    for obj in session.deleted:
        if isinstance(obj, entry_class):
            old = _old_values(obj)
            if old is not None:
                deltas[_key(old)] -= 1
    return deltas


def apply_deltas(connection: Connection, deltas: Counter[Key]) -> None:
    """Add ``deltas`` to the counter rows (created when missing), keys sorted.

    :param connection: the connection of the transaction that wrote the entries.
    :param deltas: the change of each key's count (zeros are skipped).
    """
    rows = [
        {
            "period_month": k[0],
            "target": k[1],
            "unit_id": k[2],
            "state": k[3],
            "doc_type": k[4],
            "entries": n,
        }
        for k, n in sorted(deltas.items())
        if n
    ]
    if not rows:
        return
    name = connection.dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    else:  # pragma: no cover - TrinhKy runs on SQLite and PostgreSQL only
        raise NotImplementedError(f"ledger counts on {name}")
    statement = insert(COUNTS)
    statement = statement.on_conflict_do_update(
        index_elements=list(KEY_COLUMNS),
        set_={"entries": COUNTS.c.entries + statement.excluded.entries},
    )
    # One statement per row keeps the lock order exactly the sorted order.
    for row in rows:
        connection.execute(statement, row)


def track(entry_class: type) -> None:
    """Maintain the counts of ``entry_class`` (the ledger entry model) in every session.

    :param entry_class: the mapped class whose rows are counted.
    """

    def after_flush(session: Session, _context: Any) -> None:
        deltas = _deltas(session, entry_class)
        if not deltas:
            return
        if session.in_nested_transaction():
            apply_deltas(session.connection(), deltas)
        else:
            session.info.setdefault(_PENDING, Counter()).update(deltas)

    def before_commit(session: Session) -> None:
        if session.in_nested_transaction():
            return  # a savepoint's deltas were applied at its flushes
        session.flush()
        pending: Counter[Key] | None = session.info.pop(_PENDING, None)
        if pending:
            apply_deltas(session.connection(), pending)

    def after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None:
            session.info.pop(_PENDING, None)

    event.listen(Session, "after_flush", after_flush)
    event.listen(Session, "before_commit", before_commit)
    event.listen(Session, "after_transaction_end", after_transaction_end)


def _grouped(entries: Any) -> Any:
    month = extract("year", entries.c.period_date) * 100 + extract("month", entries.c.period_date)
    doc_type = func.coalesce(entries.c.doc_type, literal(""))
    columns = [
        month.label("period_month"),
        entries.c.target,
        entries.c.unit_id,
        entries.c.state,
        doc_type.label("doc_type"),
    ]
    return select(*columns, func.count().label("entries")).group_by(*columns)


def rebuild_counts(connection: Connection, entries: Any) -> int:
    """Recompute every counter row from the entries (after a bulk load; the migration
    does the same). Call it with no concurrent ledger writer.

    :param entries: the ledger entries' table.
    :returns: the number of counter rows.
    """
    connection.execute(delete(COUNTS))
    connection.execute(COUNTS.insert().from_select([*KEY_COLUMNS, "entries"], _grouped(entries)))
    return int(connection.scalar(select(func.count()).select_from(COUNTS)) or 0)


def count_drift(connection: Connection, entries: Any) -> list[tuple[Key, int, int]]:
    """:param entries: the ledger entries' table.
    :returns: ``(key, counted, actual)`` for every key where the counter row and the
        entries disagree (empty when the counts are exact)."""
    actual: dict[Key, int] = {
        (int(r[0]), r[1], r[2], r[3], r[4]): int(r[5])
        for r in connection.execute(_grouped(entries))
    }
    counted: dict[Key, int] = {
        (r.period_month, r.target, r.unit_id, r.state, r.doc_type): r.entries
        for r in connection.execute(select(COUNTS))
    }
    keys: Iterable[Key] = sorted(set(actual) | set(counted))
    return [
        (k, counted.get(k, 0), actual.get(k, 0))
        for k in keys
        if counted.get(k, 0) != actual.get(k, 0)
    ]
