"""kops naming: truncation matches kops' own published vectors; partitions and principals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kops_iam.domain.naming import (
    additional_policy_name,
    ec2_service_principal,
    fnv1a_32,
    partition_for_region,
    role_name,
    truncate_name,
)


@pytest.mark.parametrize(
    ("data", "expected"),
    [(b"", 0x811C9DC5), (b"a", 0xE40C292C), (b"foobar", 0xBF9CF968)],
)
def test_fnv1a_32_matches_reference_vectors(data: bytes, expected: int) -> None:
    assert fnv1a_32(data) == expected


@pytest.mark.parametrize(
    ("name", "max_length", "expected"),
    [
        # kops' own truncate tests (pkg/truncate): the hash suffix is base32hex of FNV-1a.
        (
            "this_string_is_even_longer_due_to_extreme_verbosity_it_is_in_fact_84_characters_long",
            64,
            "this_string_is_even_longer_due_to_extreme_verbosity_it_is-7mc0g6",
        ),
        ("this_string_is_longer_it_is_46_characters_long", 32, "this_string_is_longer_it_-ha2gug"),
    ],
)
def test_truncate_name_matches_kops(name: str, max_length: int, expected: str) -> None:
    assert truncate_name(name, max_length) == expected


def test_names_of_64_characters_or_fewer_are_kept() -> None:
    # Given a cluster whose role name is exactly 64 characters
    cluster = "c" * (64 - len("masters."))
    # Then the name is kept as it is
    assert role_name("master", cluster) == f"masters.{cluster}"


def test_long_role_name_is_truncated_to_64_with_hash() -> None:
    # Given a cluster name long enough that nodes.<cluster> exceeds 64 characters
    cluster = "a-very-long-cluster-name.with-several-labels.k8s.example.com"
    name = role_name("node", cluster)
    # Then it is 64 characters: the first 57 of the full name, '-', a 6-character hash
    full = f"nodes.{cluster}"
    assert len(full) > 64
    assert len(name) == 64
    assert name[:57] == full[:57]
    assert name[57] == "-"
    assert name == truncate_name(full)


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-", min_size=1, max_size=200))
def test_truncation_is_bounded_and_distinguishes_by_hash(name: str) -> None:
    result = truncate_name(name)
    assert len(result) <= 64
    assert result == name or (len(name) > 64 and result.startswith(name[:57]))


def test_additional_policy_name() -> None:
    assert additional_policy_name("nodes.c.example.com") == "additional.nodes.c.example.com"


@pytest.mark.parametrize(
    ("region", "partition", "principal"),
    [
        ("eu-central-1", "aws", "ec2.amazonaws.com"),
        ("cn-north-1", "aws-cn", "ec2.amazonaws.com.cn"),
        ("cn-northwest-1", "aws-cn", "ec2.amazonaws.com.cn"),
        ("us-gov-west-1", "aws-us-gov", "ec2.amazonaws.com"),
    ],
)
def test_partition_and_principal(region: str, partition: str, principal: str) -> None:
    assert partition_for_region(region) == partition
    assert ec2_service_principal(partition) == principal


def test_the_arn_patterns_of_kops_roles_cover_the_managed_path_and_kops_names() -> None:
    # Given a partition and an account, Then the patterns name every role under /kops-iam/
    # and kops-named roles (masters., nodes., bastions.) at / and at any other path
    from kops_iam.domain.naming import kops_role_arn_patterns

    base = "arn:aws-cn:iam::123456789012:role"
    assert kops_role_arn_patterns("aws-cn", "123456789012") == [
        f"{base}/kops-iam/*",
        f"{base}/masters.*",
        f"{base}/nodes.*",
        f"{base}/bastions.*",
        f"{base}/*/masters.*",
        f"{base}/*/nodes.*",
        f"{base}/*/bastions.*",
    ]
