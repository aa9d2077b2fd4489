"""workflow: API schemas of the transparency log (signed tree heads, inclusion and
consistency proofs, witnesses)."""

from __future__ import annotations

from pydantic import Field

from workflow.schemas.base import Request, Response

Hex = str
"""A SHA-256 in lowercase hex."""


class TreeHead(Response):
    """A signed tree head (``GET /log/head``): what an auditor saves and a witness keeps."""

    id: int
    size: int = Field(description="number of entries (leaves) in the tree")
    root_hash: Hex = Field(description="RFC 9162 Merkle tree hash of those entries")
    timestamp: str = Field(description="when it was signed (ISO 8601, UTC)")
    issued_at: str = Field(description="the same moment in Vietnam time")
    statement: str = Field(
        description="the exact signed bytes (UTF-8): canonical JSON of format, size, "
        "root_hash and timestamp"
    )
    signature: str | None = Field(
        description="base64 DER of a detached CMS SignedData over ``statement`` by the "
        "organisation's seal key"
    )
    signer_fingerprint: str | None = Field(description="SHA-256 of the seal certificate")
    timestamp_token: str | None = Field(
        description="base64 DER of an RFC 3161 TimeStampToken over SHA-256(statement)"
    )
    tsa: str | None


class ProofQuery(Request):
    """``GET /log/proof`` query."""

    entry: int = Field(ge=0, le=2**62, description="leaf index, from 0")
    size: int | None = Field(
        default=None, ge=1, le=2**62, description="tree size (default: the newest signed head)"
    )


class InclusionProof(Response):
    """``GET /log/proof``: RFC 9162 inclusion proof of one entry."""

    entry: int
    size: int
    leaf: str = Field(description="the leaf input (canonical JSON naming the entry)")
    leaf_hash: Hex = Field(description="SHA-256(0x00 || leaf)")
    audit_path: list[Hex] = Field(description="from the leaf up (about log2(size) hashes)")
    root_hash: Hex
    tree_head: TreeHead | None = Field(description="the signed tree head of this size, if any")


class ConsistencyQuery(Request):
    """``GET /log/consistency`` query."""

    old: int = Field(alias="from", ge=0, le=2**62, description="size of the earlier tree")
    new: int | None = Field(
        default=None,
        alias="to",
        ge=1,
        le=2**62,
        description="size of the later tree (default: the newest signed head)",
    )


class ConsistencyProof(Response):
    """``GET /log/consistency``: RFC 9162 consistency proof between two tree sizes."""

    old: int = Field(alias="from")
    new: int = Field(alias="to")
    from_root: Hex
    to_root: Hex
    consistency_path: list[Hex]
    tree_head: TreeHead | None = Field(description="the signed tree head of ``to``, if any")


class WitnessRequest(Request):
    """``POST /log/witnesses`` body."""

    name: str = Field(min_length=1, max_length=200)
    url: str = Field(min_length=1, max_length=1000)


class Witness(Response):
    """A party that receives every signed tree head by webhook."""

    id: int
    name: str
    url: str
    active: bool
    delivered: int
    pending: int
    failed: int


class WitnessCreated(Witness):
    """The new witness with its HMAC secret (shown only now)."""

    secret: str = Field(description="HMAC-SHA256 key of X-TrinhKy-Signature")


class Witnesses(Response):
    """``GET /log/witnesses``."""

    witnesses: list[Witness]
