"""RFC 9162 / RFC 6962 Merkle hashing and proofs against Certificate Transparency's
published vectors.

The vectors are those of transparency-dev/merkle (the successor of
google/certificate-transparency-go's ``merkle`` package), files
``testonly/constants.go`` (leaf inputs, node hashes, roots of every size 0-8; commit
582a6ad190b6848f1d26f8bf08ddef29955d9db1) and ``testonly/reference_test.go``
(inclusion and consistency proofs; commit 141d627eab770a7e9a2514f46a8b6338e6d90874),
https://github.com/transparency-dev/merkle.
"""

from __future__ import annotations

import hashlib
import random

import pytest

from storage import merkle
from trinhky_verify import merkle as offline

LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)]  # fmt: skip
LEAF_HASHES = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
]
LEVEL1 = [
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
]
LEVEL2 = [
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [  # (index, size, proof)
    (0, 1, []),
    (0, 2, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"]),
    (1, 2, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ]),
    (0, 8, [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]),
    (5, 8, [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]),
]  # fmt: skip
CONSISTENCY = [  # (old, new, proof)
    (1, 1, []),
    (1, 8, [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]),
    (2, 5, [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ]),
    (6, 8, [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]),
]  # fmt: skip

HASHED = [merkle.leaf_hash(d) for d in LEAVES]


def _nodes(hashes: list[bytes]) -> dict[merkle.Node, bytes]:
    """Every perfect subtree of a list of leaf hashes (what a store keeps)."""
    nodes: dict[merkle.Node, bytes] = {(0, i): h for i, h in enumerate(hashes)}
    level, row = 0, hashes
    while len(row) > 1:
        row = [merkle.node_hash(row[i], row[i + 1]) for i in range(0, len(row) - 1, 2)]
        level += 1
        nodes.update({(level, i): h for i, h in enumerate(row)})
    return nodes


def _reference_root(hashes: list[bytes]) -> bytes:
    """MTH straight from the RFC's recursive definition."""
    if not hashes:
        return merkle.EMPTY_ROOT
    if len(hashes) == 1:
        return hashes[0]
    k = merkle.split_point(len(hashes))
    return merkle.node_hash(_reference_root(hashes[:k]), _reference_root(hashes[k:]))


def test_leaf_and_node_hashes_match_the_vectors() -> None:
    assert [h.hex() for h in HASHED] == LEAF_HASHES
    nodes = _nodes(HASHED)
    assert [nodes[(1, i)].hex() for i in range(4)] == LEVEL1
    assert [nodes[(2, i)].hex() for i in range(2)] == LEVEL2
    assert merkle.EMPTY_ROOT == hashlib.sha256(b"").digest()


def test_roots_of_every_size_match_the_vectors() -> None:
    nodes = _nodes(HASHED)
    for size, want in enumerate(ROOTS):
        assert merkle.root_of(HASHED[:size]).hex() == want
        assert merkle.tree_hash(size, nodes).hex() == want


@pytest.mark.parametrize(("index", "size", "want"), INCLUSION)
def test_inclusion_proofs_match_and_verify(index: int, size: int, want: list[str]) -> None:
    nodes = _nodes(HASHED[:size])
    proof = merkle.proof_from(merkle.inclusion_ranges(index, size), lambda keys, nodes=nodes: nodes)
    assert [p.hex() for p in proof] == want
    root = bytes.fromhex(ROOTS[size])
    assert merkle.verify_inclusion(index, size, HASHED[index], proof, root)
    assert not merkle.verify_inclusion(index, size, HASHED[(index + 1) % 8], proof, root)
    if proof:
        bad = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
        assert not merkle.verify_inclusion(index, size, HASHED[index], bad, root)
        assert not merkle.verify_inclusion(index, size, HASHED[index], proof[:-1], root)
    assert not merkle.verify_inclusion(index, size, HASHED[index], [*proof, root], root)


@pytest.mark.parametrize(("old", "new", "want"), CONSISTENCY)
def test_consistency_proofs_match_and_verify(old: int, new: int, want: list[str]) -> None:
    nodes = _nodes(HASHED[:new])
    proof = merkle.proof_from(merkle.consistency_ranges(old, new), lambda keys, nodes=nodes: nodes)
    assert [p.hex() for p in proof] == want
    old_root, new_root = bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new])
    assert merkle.verify_consistency(old, new, old_root, new_root, proof)
    if old < new:
        assert not merkle.verify_consistency(old, new, new_root, new_root, proof)
        assert not merkle.verify_consistency(old, new, old_root, old_root, proof)
        assert not merkle.verify_consistency(old, new, old_root, new_root, proof[:-1])


def test_every_proof_of_random_trees_verifies() -> None:
    """All pairs up to 40 leaves, against the RFC's recursive definition."""
    rng = random.Random(9162)
    hashes = [merkle.leaf_hash(rng.randbytes(rng.randrange(0, 40))) for _ in range(40)]
    frontier: list[bytes] = []
    for n in range(1, 41):
        nodes = _nodes(hashes[:n])
        # the frontier and the merged nodes agree with the full tree
        made = merkle.merged_nodes(n - 1, hashes[n - 1], frontier)
        assert all(nodes[key] == h for key, h in made)
        frontier = merkle.append_to_frontier(frontier, n - 1, hashes[n - 1])
        root = _reference_root(hashes[:n])
        assert merkle.fold(frontier) == root == merkle.tree_hash(n, nodes)
        for i in range(n):
            proof = merkle.proof_from(
                merkle.inclusion_ranges(i, n), lambda keys, nodes=nodes: nodes
            )
            assert len(proof) <= n.bit_length()
            assert merkle.verify_inclusion(i, n, hashes[i], proof, root)
        for m in range(1, n + 1):
            proof = merkle.proof_from(
                merkle.consistency_ranges(m, n), lambda keys, nodes=nodes: nodes
            )
            old_root = _reference_root(hashes[:m])
            assert merkle.verify_consistency(m, n, old_root, root, proof)
            if m < n:
                assert not merkle.verify_consistency(m, n, root, root, proof)


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        merkle.inclusion_ranges(3, 3)
    with pytest.raises(ValueError):
        merkle.consistency_ranges(0, 3)
    with pytest.raises(ValueError):
        merkle.consistency_ranges(4, 3)
    assert not merkle.verify_consistency(4, 3, HASHED[0], HASHED[0], [])


def test_the_offline_verifiers_copy_matches_the_vectors() -> None:
    """``trinhky_verify.merkle`` is written again (the verifier never imports the server)."""

    for size, want in enumerate(ROOTS):
        assert offline.root_of([offline.leaf_hash(d) for d in LEAVES[:size]]).hex() == want
    for index, size, proof in INCLUSION:
        path = [bytes.fromhex(p) for p in proof]
        assert offline.verify_inclusion(
            index, size, HASHED[index], path, bytes.fromhex(ROOTS[size])
        )
    for old, new, proof in CONSISTENCY:
        assert [p.hex() for p in offline.consistency_proof(HASHED[:new], old)] == (
            proof if old < new else []
        )
        path = [bytes.fromhex(p) for p in proof]
        old_root, new_root = bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new])
        assert offline.verify_consistency(old, new, old_root, new_root, path)
        if old < new:
            assert not offline.verify_consistency(old, new, new_root, new_root, path)
