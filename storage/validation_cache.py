"""storage: validation reports of stored files, kept per (file hash, trust-list version).

A stored blob never changes (it is addressed by its SHA-256), so its validation report
changes only when what it is judged against changes: the trust list (roots,
intermediates) or the revocation status of a certificate. Both bump one counter, the
trust-list version (:func:`bump_trust_version`); a report is looked up by the file's
hash and the current version, so a bump invalidates every report at once, for every
worker and host (the rows are in the database, not in a process).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.db import Base
from storage.types import UTCDateTime, utcnow

TRUST_STATE_ID = 1


class TrustState(Base):
    """One row: the trust-list version the cached reports were computed under."""

    __tablename__ = "trust_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ValidationResult(Base):
    """The validation report of the file ``sha256`` under trust-list ``trust_version``."""

    __tablename__ = "validation_results"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    trust_version: Mapped[int] = mapped_column(Integer, primary_key=True)
    verdict: Mapped[str] = mapped_column(String(16))
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    """``signing.validate.ValidationReport.to_dict()``."""
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def trust_version(session: Session) -> int:
    """:returns: the current trust-list version (1 before the first bump)."""
    version = session.scalar(select(TrustState.version).where(TrustState.id == TRUST_STATE_ID))
    return version or 1


def bump_trust_version(session: Session) -> int:
    """Invalidate every cached validation report: call it in the transaction that changes
    the trust list or a certificate's revocation status (the caller commits).

    :returns: the new version.
    """
    changed = session.execute(
        update(TrustState)
        .where(TrustState.id == TRUST_STATE_ID)
        .values(version=TrustState.version + 1, changed_at=utcnow())
    )
    if not getattr(changed, "rowcount", 0):
        session.add(TrustState(id=TRUST_STATE_ID, version=2, changed_at=utcnow()))
        session.flush()
    return trust_version(session)


def current_report(session: Session, sha256: str) -> tuple[int, dict[str, Any] | None]:
    """:returns: the current trust-list version (as :func:`trust_version`) and the stored
    report of ``sha256`` under it, or None: one query."""
    version = func.coalesce(
        select(TrustState.version).where(TrustState.id == TRUST_STATE_ID).scalar_subquery(), 1
    )
    report = (
        select(ValidationResult.report)
        .where(ValidationResult.sha256 == sha256, ValidationResult.trust_version == version)
        .scalar_subquery()
    )
    current, stored = session.execute(select(version, report)).one()
    return int(current), (dict(stored) if stored is not None else None)


def cached_report(session: Session, sha256: str, version: int) -> dict[str, Any] | None:
    """:returns: the stored report of ``sha256`` under ``version``, or None."""
    row = session.get(ValidationResult, (sha256, version))
    return dict(row.report) if row is not None else None


def add_report(session: Session, sha256: str, version: int, report: dict[str, Any]) -> None:
    """Record a report in the caller's transaction (a report already there is kept: the
    same bytes under the same trust list give the same report)."""
    if session.get(ValidationResult, (sha256, version)) is None:
        session.add(
            ValidationResult(
                sha256=sha256,
                trust_version=version,
                verdict=str(report.get("verdict", "")),
                report=report,
            )
        )


def store_report(session: Session, sha256: str, version: int, report: dict[str, Any]) -> None:
    """Record a report in a short transaction of its own and commit it; another worker
    storing the same report at the same moment is not an error.

    :param session: a fresh session used for this write only.
    """
    try:
        add_report(session, sha256, version, report)
        session.commit()
    except IntegrityError:
        session.rollback()
