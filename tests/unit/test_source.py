"""Reading spec objects: version pinning, the size cap before download, listing specs."""

from __future__ import annotations

import io
from collections.abc import Iterator

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from kops_iam.aws.s3_source import (
    ObjectChanged,
    ObjectTooLarge,
    ObjectVersion,
    SpecSource,
    TooManyInstanceGroups,
    same_listing,
    same_state,
)
from kops_iam.domain.state_store import (
    MAX_INSTANCE_GROUP_BYTES,
    MAX_INSTANCE_GROUPS,
    spec_key_for,
)

BUCKET = "specs"
KEY = "c.k8s.example.com/config"


@pytest.fixture(scope="module")
def s3() -> object:
    return boto3.session.Session(region_name="us-east-1").client("s3")


@pytest.fixture
def stub(s3: object) -> Iterator[Stubber]:
    with Stubber(s3) as stubber:  # type: ignore[arg-type]
        yield stubber
        stubber.assert_no_pending_responses()


def body(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


def test_head_reports_version_etag_and_size(s3: object, stub: Stubber) -> None:
    stub.add_response(
        "head_object",
        {"ETag": '"abc"', "ContentLength": 12, "VersionId": "v1"},
        {"Bucket": BUCKET, "Key": KEY},
    )
    stub.add_response("head_object", {"ETag": '"abc"', "ContentLength": 12, "VersionId": "null"})
    source = SpecSource(s3, BUCKET, 100)  # type: ignore[arg-type]
    assert source.head(KEY) == ObjectVersion(BUCKET, KEY, "v1", '"abc"', 12)
    unversioned = source.head(KEY)
    assert unversioned is not None and unversioned.version_id is None
    assert unversioned.describe() == {"versionId": None, "etag": "abc"}


def test_head_of_a_missing_object_is_none_but_other_errors_raise(s3: object, stub: Stubber) -> None:
    stub.add_client_error("head_object", "404", http_status_code=404)
    stub.add_client_error("head_object", "403", http_status_code=403)
    source = SpecSource(s3, BUCKET, 100)  # type: ignore[arg-type]
    assert source.head(KEY) is None
    with pytest.raises(Exception, match="403"):
        source.head(KEY)


def test_read_pins_the_version_seen_by_head(s3: object, stub: Stubber) -> None:
    stub.add_response(
        "get_object", {"Body": body(b"v1")}, {"Bucket": BUCKET, "Key": KEY, "VersionId": "v1"}
    )
    stub.add_response(
        "get_object", {"Body": body(b"e1")}, {"Bucket": BUCKET, "Key": KEY, "IfMatch": '"e"'}
    )
    source = SpecSource(s3, BUCKET, 100)  # type: ignore[arg-type]
    assert source.read(ObjectVersion(BUCKET, KEY, "v1", '"e"', 2)) == b"v1"
    assert source.read(ObjectVersion(BUCKET, KEY, None, '"e"', 2)) == b"e1"


def test_an_object_over_the_cap_is_refused_without_a_get(s3: object, stub: Stubber) -> None:
    source = SpecSource(s3, BUCKET, 1024)  # type: ignore[arg-type]
    with pytest.raises(ObjectTooLarge) as info:
        source.read(ObjectVersion(BUCKET, KEY, None, '"e"', 100 * 1024 * 1024))
    assert info.value.size == 100 * 1024 * 1024  # (the stubber would fail on any call)


def test_an_object_that_grew_after_its_head_is_refused(s3: object, stub: Stubber) -> None:
    stub.add_response("get_object", {"Body": body(b"x" * 50)})
    source = SpecSource(s3, BUCKET, 10)  # type: ignore[arg-type]
    with pytest.raises(ObjectTooLarge):
        source.read(ObjectVersion(BUCKET, KEY, None, '"e"', 5))


def test_an_object_replaced_between_head_and_get_is_reported(s3: object, stub: Stubber) -> None:
    stub.add_client_error("get_object", "PreconditionFailed", http_status_code=412)
    stub.add_client_error("get_object", "NoSuchKey", http_status_code=404)
    source = SpecSource(s3, BUCKET, 100)  # type: ignore[arg-type]
    for _ in range(2):
        with pytest.raises(ObjectChanged):
            source.read(ObjectVersion(BUCKET, KEY, None, '"e"', 5))


def test_spec_keys_lists_top_level_prefixes_page_by_page(s3: object, stub: Stubber) -> None:
    stub.add_response(
        "list_objects_v2",
        {
            "CommonPrefixes": [{"Prefix": "a.k8s.example.com/"}, {"Prefix": "b.k8s.example.com/"}],
            "IsTruncated": True,
            "NextContinuationToken": "t",
        },
        {"Bucket": BUCKET, "Delimiter": "/"},
    )
    stub.add_response(
        "list_objects_v2",
        {"CommonPrefixes": [{"Prefix": "c.k8s.example.com/"}], "IsTruncated": False},
        {"Bucket": BUCKET, "Delimiter": "/", "ContinuationToken": "t"},
    )
    source = SpecSource(s3, BUCKET, 100)  # type: ignore[arg-type]
    assert list(source.spec_keys()) == [f"{c}.k8s.example.com/config" for c in "abc"]


def test_same_state_compares_versions_and_absence() -> None:
    v1 = ObjectVersion(BUCKET, KEY, None, '"a"', 1)
    assert same_state(None, None)
    assert same_state(v1, ObjectVersion(BUCKET, KEY, None, '"a"', 1))
    assert not same_state(v1, None) and not same_state(None, v1)
    assert not same_state(v1, ObjectVersion(BUCKET, KEY, None, '"b"', 1))
    assert not same_state(v1, ObjectVersion(BUCKET, KEY, "v2", '"a"', 1))


# -- a cluster's InstanceGroup objects (docs/adr/0093) -------------------------------------

PREFIX = "c.k8s.example.com/instancegroup/"


def listing(*keys: str, size: int = 100, truncated: bool = False) -> dict[str, object]:
    return {
        "Contents": [{"Key": k, "ETag": f'"{k}"', "Size": size} for k in keys],
        "IsTruncated": truncated,
    }


def test_instance_groups_are_one_bounded_listing_of_direct_children(
    s3: object, stub: Stubber
) -> None:
    # Given the listing S3 answers (a folder marker and nothing deeper: Delimiter="/")
    expected = {
        "Bucket": BUCKET,
        "Prefix": PREFIX,
        "Delimiter": "/",
        "MaxKeys": MAX_INSTANCE_GROUPS + 1,
    }
    stub.add_response(
        "list_objects_v2", listing(PREFIX + "nodes", PREFIX, PREFIX + "bastions"), expected
    )
    found = SpecSource(s3, BUCKET, 1024).instance_groups("c.k8s.example.com")  # type: ignore[arg-type]
    # Then only the InstanceGroup keys, sorted, with their ETags
    assert [(v.key, v.etag) for v in found] == [
        (PREFIX + "bastions", f'"{PREFIX}bastions"'),
        (PREFIX + "nodes", f'"{PREFIX}nodes"'),
    ]
    assert same_listing(found, found) and not same_listing(found, found[:1])


@pytest.mark.parametrize(
    "answer",
    [
        listing(*(f"{PREFIX}g{i}" for i in range(MAX_INSTANCE_GROUPS + 1))),
        listing(f"{PREFIX}g", truncated=True),
        listing(f"{PREFIX}a", f"{PREFIX}b", size=MAX_INSTANCE_GROUP_BYTES // 2 + 1),
    ],
    ids=["count", "truncated", "bytes"],
)
def test_too_many_or_too_large_instance_groups_are_refused_before_any_read(
    s3: object, stub: Stubber, answer: dict[str, object]
) -> None:
    stub.add_response("list_objects_v2", answer)
    with pytest.raises(TooManyInstanceGroups):
        SpecSource(s3, BUCKET, 1024).instance_groups("c.k8s.example.com")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("c/config", "c/config"),
        ("c/instancegroup/nodes", "c/config"),
        ("c/instancegroup/", None),
        ("c/instancegroup/a/b", None),
        ("c/secrets/config", None),
        ("c/pki/private/instancegroup/keyset.yaml", None),
        ("c/cluster.spec", None),
    ],
)
def test_which_cluster_an_object_event_reconciles(key: str, expected: str | None) -> None:
    assert spec_key_for(key) == expected
