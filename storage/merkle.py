"""storage: Merkle tree hashing and proofs of RFC 9162 section 2.1 (pure: no database).

Leaves hash as ``SHA-256(0x00 || d)``, interior nodes as ``SHA-256(0x01 || l || r)``; the
tree of ``n`` leaves splits at the largest power of two below ``n``. Proofs are built
from *subtree hashes*: the algorithms here only name the ranges ``[start, end)`` whose
hash they need (:func:`inclusion_ranges`, :func:`consistency_ranges`), so a store can
fetch them in one query. Every such range is a right edge, which :func:`perfect_cover`
splits into at most ``log2(n)`` perfect subtrees (aligned, of a power-of-two size): the
nodes a store keeps.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""``MTH({})``: the hash of an empty tree."""

Range = tuple[int, int]
"""Leaves ``[start, end)``."""
Node = tuple[int, int]
"""A perfect subtree ``(level, index)``: leaves ``[index << level, (index + 1) << level)``."""


def leaf_hash(data: bytes) -> bytes:
    """:returns: ``SHA-256(0x00 || data)``."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """:returns: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def split_point(n: int) -> int:
    """:returns: the largest power of two smaller than ``n`` (``n >= 2``)."""
    if n < 2:
        raise ValueError("split_point needs n >= 2")
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """:param leaf_hashes: the hashed leaves, in order.
    :returns: ``MTH`` of the tree they make (iterative, memory ``O(log n)``).
    """
    return fold(compact(leaf_hashes))


def compact(leaf_hashes: Iterable[bytes]) -> list[bytes]:
    """:returns: the roots of the perfect subtrees that make the tree of ``leaf_hashes``,
    largest (leftmost) first: the *frontier* a log keeps to append."""
    frontier: list[bytes] = []
    for count, leaf in enumerate(leaf_hashes):
        frontier = append_to_frontier(frontier, count, leaf)
    return frontier


def append_to_frontier(frontier: list[bytes], size: int, leaf: bytes) -> list[bytes]:
    """Add one leaf to the frontier of a tree of ``size`` leaves.

    :returns: the new frontier (``frontier`` is changed in place too).
    """
    node = leaf
    while size & 1:
        node = node_hash(frontier.pop(), node)
        size >>= 1
    frontier.append(node)
    return frontier


def merged_nodes(size: int, leaf: bytes, frontier: Sequence[bytes]) -> list[tuple[Node, bytes]]:
    """The perfect subtrees completed by appending ``leaf`` at index ``size``.

    :param frontier: the frontier before the append.
    :returns: ``((level, index), hash)`` for levels 1 and up, lowest first.
    """
    made: list[tuple[Node, bytes]] = []
    node, index, level, pos = leaf, size, 0, len(frontier)
    while index & 1:
        pos -= 1
        node = node_hash(frontier[pos], node)
        index >>= 1
        level += 1
        made.append(((level, index), node))
    return made


def fold(perfect_roots: Sequence[bytes]) -> bytes:
    """:param perfect_roots: the roots of the perfect subtrees of one range, left first.
    :returns: the hash of that range (right-to-left fold)."""
    if not perfect_roots:
        return EMPTY_ROOT
    acc = perfect_roots[-1]
    for h in reversed(perfect_roots[:-1]):
        acc = node_hash(h, acc)
    return acc


def perfect_cover(start: int, end: int) -> list[Node]:
    """:returns: the perfect subtrees that make the subtree ``[start, end)`` of an RFC
    9162 tree (``start`` a multiple of a power of two at least ``end - start``), left
    first. A perfect range gives itself."""
    nodes: list[Node] = []
    pos = start
    while pos < end:
        level = (end - pos).bit_length() - 1
        # Aligned: pos is a multiple of every power of two not above the remaining range.
        while pos & ((1 << level) - 1):
            level -= 1
        nodes.append((level, pos >> level))
        pos += 1 << level
    return nodes


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The subtrees whose hashes make the audit path ``PATH(index, D[size])`` (RFC 9162
    2.1.3.1), in proof order (from the leaf up).

    :raises ValueError: ``index`` is not below ``size``.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    ranges: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(old: int, new: int) -> list[Range]:
    """The subtrees whose hashes make ``PROOF(old, D[new])`` (RFC 9162 2.1.4.1), in proof
    order.

    :raises ValueError: not ``0 < old <= new``.
    """
    if not 0 < old <= new:
        raise ValueError(f"no consistency proof from {old} to {new}")
    ranges: list[Range] = []
    start, end, m, complete = 0, new, old, True
    while True:
        n = end - start
        if m == n:
            if not complete:
                ranges.append((start, end))
            break
        k = split_point(n)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            m -= k
            complete = False
    ranges.reverse()
    return ranges


def needed_nodes(ranges: Iterable[Range]) -> set[Node]:
    """:returns: every perfect subtree the hashes of ``ranges`` are folded from."""
    return {node for start, end in ranges for node in perfect_cover(start, end)}


def range_hashes(ranges: Sequence[Range], nodes: Mapping[Node, bytes]) -> list[bytes]:
    """:param nodes: the hash of every node of :func:`needed_nodes`.
    :returns: the hash of each range.
    :raises KeyError: a node is missing.
    """
    return [fold([nodes[n] for n in perfect_cover(s, e)]) for s, e in ranges]


def tree_hash(size: int, nodes: Mapping[Node, bytes]) -> bytes:
    """:returns: ``MTH`` of the first ``size`` leaves from its perfect subtrees."""
    return EMPTY_ROOT if size == 0 else fold([nodes[n] for n in perfect_cover(0, size)])


def proof_from(
    ranges: Sequence[Range], lookup: Callable[[set[Node]], Mapping[Node, bytes]]
) -> list[bytes]:
    """:param lookup: fetches the hashes of a set of nodes (one query for a store).
    :returns: the proof: the hash of each range."""
    return range_hashes(ranges, lookup(needed_nodes(ranges)))


# --- verification (RFC 9162 2.1.3.2 and 2.1.4.2) -------------------------------------


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to (RFC 9162 2.1.3.2, steps 1-5).

    :raises ValueError: the proof does not fit ``index`` and ``size``.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ValueError("inclusion proof too long")
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
    if sn != 0:
        raise ValueError("inclusion proof too short")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """:returns: whether ``proof`` shows ``leaf`` at ``index`` in the tree ``root``."""
    try:
        return root_from_inclusion(index, size, leaf, proof) == root
    except ValueError:
        return False


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """:returns: whether ``proof`` shows the tree ``new_root`` of ``new`` leaves extends
    the tree ``old_root`` of ``old`` leaves (RFC 9162 2.1.4.2)."""
    if old > new or old < 0:
        return False
    if old == new:
        return not proof and old_root == new_root
    if old == 0:
        return not proof
    path = list(proof)
    if old & (old - 1) == 0:  # a power of two: the old root is the first node
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
