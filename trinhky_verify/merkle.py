"""RFC 9162 Merkle tree hashing and proof checks, written again for the offline verifier
(it never imports the server). Keep in step with ``storage/merkle.py``: the tests check
both against Certificate Transparency's published vectors."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


class Roots:
    """The root of every prefix of a list of leaf hashes, appended one by one."""

    def __init__(self) -> None:
        self.size = 0
        self._frontier: list[bytes] = []

    def append(self, leaf: bytes) -> None:
        node, size = leaf, self.size
        while size & 1:
            node = node_hash(self._frontier.pop(), node)
            size >>= 1
        self._frontier.append(node)
        self.size += 1

    def root(self) -> bytes:
        """:returns: the root of the leaves appended so far."""
        if not self._frontier:
            return EMPTY_ROOT
        acc = self._frontier[-1]
        for h in reversed(self._frontier[:-1]):
            acc = node_hash(h, acc)
        return acc


def root_of(hashes: Sequence[bytes]) -> bytes:
    """``MTH`` of a list of leaf hashes."""
    roots = Roots()
    for h in hashes:
        roots.append(h)
    return roots.root()


def consistency_proof(hashes: Sequence[bytes], old: int) -> list[bytes]:
    """``PROOF(old, D[n])`` of RFC 9162 2.1.4.1 from all the leaf hashes (0 < old <= n)."""
    proof: list[bytes] = []

    def sub(start: int, end: int, m: int, complete: bool) -> None:
        n = end - start
        if m == n:
            if not complete:
                proof.append(root_of(hashes[start:end]))
            return
        k = _split(n)
        if m <= k:
            sub(start, start + k, m, complete)
            proof.append(root_of(hashes[start + k : end]))
        else:
            sub(start + k, end, m - k, False)
            proof.append(root_of(hashes[start : start + k]))

    sub(0, len(hashes), old, True)
    return proof


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2."""
    if not 0 <= old <= new:
        return False
    if old == new:
        return not proof and old_root == new_root
    if old == 0:
        return not proof
    path = list(proof)
    if old & (old - 1) == 0:
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
