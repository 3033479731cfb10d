"""Engineered role-name collisions: different cluster names whose kops role names coincide.

kops cuts a role name over 64 characters to its first 57 characters, ``-`` and 6
characters (30 bits) of the base32hex FNV-1a hash of the whole name
(:func:`kops_iam.domain.naming.truncate_name`). Two cluster names that share their first
51 characters (``nodes.`` + 51 = 57) and whose hashes agree on those 30 bits give the same
role name. A birthday search finds such a pair after about 2^15 names: well under a second.
"""

from __future__ import annotations

import functools

from kops_iam.domain.model import RoleKind
from kops_iam.domain.naming import fnv1a_32, role_name

_KIND_PREFIX: dict[RoleKind, str] = {"master": "masters.", "node": "nodes.", "bastion": "bastions."}
_FNV_PRIME = 0x01000193

#: 51 characters every generated name starts with (so the kept 57 characters agree for
#: ``nodes.``; ``masters.`` and ``bastions.`` keep fewer, so they agree too).
PREFIX = "collision-test-cluster-with-a-very-long-label.k8s-x"
assert len(PREFIX) == 51


def candidate(index: int, suffix: str = "example.com") -> str:
    """The ``index``-th candidate cluster name (a valid DNS name of at most 106 characters)."""
    return f"{PREFIX}{index:x}.{suffix}"


@functools.cache
def colliding_clusters(
    kind: RoleKind = "node", groups: int = 1, *, start: int = 0
) -> tuple[tuple[str, str], ...]:
    """``groups`` pairs of distinct cluster names whose ``kind`` role names coincide."""
    # FNV-1a is incremental: hash the shared beginning once, then only each name's tail.
    head = f"{_KIND_PREFIX[kind]}{PREFIX}".encode()
    state = fnv1a_32(head)
    seen: dict[int, str] = {}
    found: list[tuple[str, str]] = []
    index = start
    while len(found) < groups:
        name = candidate(index)
        index += 1
        value = state
        for byte in name[len(PREFIX) :].encode():
            value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
        key = value >> 2  # the 30 bits the 6 base32hex characters keep
        other = seen.get(key)
        if other is None:
            seen[key] = name
            continue
        assert role_name(kind, other) == role_name(kind, name), (other, name)
        found.append((other, name))
        seen.clear()
    return tuple(found)


def colliding_pair(kind: RoleKind = "node") -> tuple[str, str]:
    """One pair of cluster names whose ``kind`` role names coincide."""
    return colliding_clusters(kind, 1)[0]
