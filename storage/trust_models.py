"""storage: the administrators' trust list: trusted roots and intermediates beyond the
server's own root, grouped in named lists, and a monotonic version bumped by each change
(caches of validation results key on it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.db import Base
from storage.types import UTCDateTime, utcnow


class TrustAnchor(Base):
    """A certificate an administrator imported: a trusted root (a chain may end here) or
    an intermediate (helps build chains, trusted only through a root)."""

    __tablename__ = "trust_anchors"

    id: Mapped[int] = mapped_column(primary_key=True)
    list_name: Mapped[str] = mapped_column(String(120))
    """The list it belongs to, e.g. ``'Ban Cơ yếu Chính phủ'``: validation reports name it."""
    kind: Mapped[str] = mapped_column(String(16))
    """``'root'`` or ``'intermediate'``."""
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    """Lowercase hex SHA-256 of the DER."""
    subject: Mapped[str] = mapped_column(Text)
    issuer: Mapped[str] = mapped_column(Text)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    not_after: Mapped[datetime] = mapped_column(UTCDateTime())
    cert_pem: Mapped[str] = mapped_column(Text)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TrustListChange(Base):
    """One change of the trust list; the highest id is the list's version."""

    __tablename__ = "trust_list_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(16))
    """``'added'`` or ``'removed'``."""
    list_name: Mapped[str] = mapped_column(String(120))
    fingerprint: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def current_version(session: Session) -> int:
    """:returns: the trust list's version (0 before any change)."""
    return int(session.scalar(select(func.max(TrustListChange.id))) or 0)


def anchors(session: Session) -> list[TrustAnchor]:
    """:returns: every imported certificate, by list then subject."""
    return list(
        session.scalars(select(TrustAnchor).order_by(TrustAnchor.list_name, TrustAnchor.subject))
    )
