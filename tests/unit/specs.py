"""Builders for spec documents in unit tests (Given ... a spec with ...)."""

from __future__ import annotations

from typing import Any

from spec_builders import cluster_doc

__all__ = ["cluster_doc", "etcd"]


def etcd(*members: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"name": "main", "etcdMembers": [dict(name=f"m{i}", **m) for i, m in enumerate(members)]}
    ]
