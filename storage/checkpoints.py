"""storage: checkpoints of the audit chain head, optionally under an RFC 3161 timestamp."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import cms
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.audit_models import AuditCheckpoint
from storage.models import AuditHead
from storage.types import utcnow

Timestamper = Callable[[bytes], bytes]
"""Takes a SHA-256 digest, returns the DER of an RFC 3161 ``TimeStampToken`` over it."""

EMPTY_HEAD = "0" * 64
"""Head hash of an empty chain (``storage.audit.GENESIS``)."""


def checkpoint_digest(head_hash: str) -> bytes:
    """:param head_hash: the hex chain head.
    :returns: the SHA-256 the timestamp token covers: ``SHA-256(bytes.fromhex(head_hash))``.
    """
    return hashlib.sha256(bytes.fromhex(head_hash)).digest()


@dataclass(frozen=True)
class TokenInfo:
    """What a checkpoint's timestamp token says (its CMS signature is not checked here)."""

    hash_algorithm: str
    """Digest algorithm of the message imprint (``sha256`` expected)."""
    imprint: bytes
    """The digest the TSA stamped."""
    gen_time: datetime | None
    """When the TSA says it stamped."""
    tsa: str | None
    """The TSA's name from the token (``TSTInfo.tsa``, else the first certificate)."""


def token_info(token: bytes) -> TokenInfo | None:
    """:param token: DER of a ``TimeStampToken`` (CMS ``SignedData`` over a ``TSTInfo``).
    :returns: its imprint, time and TSA name, or ``None`` if it cannot be parsed.
    """
    try:
        signed = cms.ContentInfo.load(token)["content"]
        tst = signed["encap_content_info"]["content"].parsed
        imprint = tst["message_imprint"]
        algorithm = str(imprint["hash_algorithm"]["algorithm"].native)
        digest = bytes(imprint["hashed_message"].native)
        gen_time = tst["gen_time"].native
        tsa: str | None = None
        if tst["tsa"].native is not None:
            tsa = str(tst["tsa"].chosen.human_friendly)
        elif signed["certificates"].native:
            tsa = str(signed["certificates"][0].chosen.subject.human_friendly)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return TokenInfo(algorithm, digest, gen_time if isinstance(gen_time, datetime) else None, tsa)


def token_matches(token: bytes, head_hash: str) -> bool:
    """:returns: whether ``token`` stamps :func:`checkpoint_digest` of ``head_hash``."""
    info = token_info(token)
    return (
        info is not None
        and info.hash_algorithm == "sha256"
        and info.imprint == checkpoint_digest(head_hash)
    )


def create_checkpoint(
    session: Session,
    timestamper: Timestamper | None = None,
    *,
    tsa_name: str | None = None,
    now: datetime | None = None,
) -> AuditCheckpoint:
    """Record the current chain head in the caller's transaction (the caller commits).

    The head row is locked like :func:`storage.audit.append` does, so the checkpoint
    matches the entries committed before it. It does not verify the chain: callers that
    must not bless a tampered log verify first (from the latest checkpoint, cheaply).

    :param timestamper: when given, called with :func:`checkpoint_digest` of the head;
        its token is stored with the checkpoint.
    :param tsa_name: name of the TSA; defaults to the one the token names.
    :param now: when the checkpoint is recorded (default: the clock).
    :returns: the new checkpoint.
    """
    head = session.execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).with_for_update()
    ).first()
    seq, head_hash = (0, EMPTY_HEAD) if head is None else (int(head.seq), str(head.hash))
    token = timestamper(checkpoint_digest(head_hash)) if timestamper is not None else None
    if token is not None and tsa_name is None:
        info = token_info(token)
        tsa_name = info.tsa if info is not None else None
    checkpoint = AuditCheckpoint(
        created_at=now or utcnow(),
        seq=seq,
        head_hash=head_hash,
        timestamp_token=token,
        tsa_name=(tsa_name or None) if token is not None else None,
    )
    session.add(checkpoint)
    session.flush()
    return checkpoint


def latest_checkpoint(session: Session) -> AuditCheckpoint | None:
    """:returns: the checkpoint with the highest ``seq`` (newest among equals), if any."""
    return session.scalars(
        select(AuditCheckpoint)
        .order_by(AuditCheckpoint.seq.desc(), AuditCheckpoint.id.desc())
        .limit(1)
    ).first()


def list_checkpoints(session: Session, limit: int = 20) -> list[AuditCheckpoint]:
    """:returns: the newest ``limit`` checkpoints, newest first."""
    return list(
        session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(limit))
    )
