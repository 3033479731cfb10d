"""moto at fleet scale (``support.moto_scale``) answers what moto answers, page by page.

Each test reads the same moto state with the patches off (moto as it is) and on, and
compares the answers; SQS, whose reads change state, gets two identical queues.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from support import moto_scale
from support.world import World
from support.world import world as make_world

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
)


@pytest.fixture
def iam_world() -> Iterator[World]:
    """Roles with and without profiles (one in two), inline and managed policies, tags, a
    boundary; a user and a group."""
    with make_world(managed_policies=["boundary", "extra"]) as w:
        iam = w.inspect_iam
        boundary = w.resources.managed_policy_arn("boundary")
        for i in range(7):
            name = f"nodes.c{i}.k8s.example.com"
            iam.create_role(
                RoleName=name,
                Path="/kops-iam/",
                AssumeRolePolicyDocument=TRUST,
                Tags=[{"Key": "KubernetesCluster", "Value": f"c{i}"}],
                **({"PermissionsBoundary": boundary} if i == 2 else {}),
            )
            iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=POLICY)
            if i % 3:
                iam.create_instance_profile(
                    InstanceProfileName=name, Path="/kops-iam/", Tags=[{"Key": "k", "Value": "v"}]
                )
                iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
        iam.create_instance_profile(InstanceProfileName="second")
        iam.add_role_to_instance_profile(
            InstanceProfileName="second", RoleName="nodes.c1.k8s.example.com"
        )
        iam.attach_role_policy(
            RoleName="nodes.c4.k8s.example.com", PolicyArn=w.resources.managed_policy_arn("extra")
        )
        iam.create_role(RoleName="ci-deployer", AssumeRolePolicyDocument=TRUST)
        iam.create_user(UserName="someone")
        iam.create_group(GroupName="people")
        yield w


LISTS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")


def pages(iam: Any, **request: Any) -> tuple[list[dict[str, Any]], dict[str, list[Any]]]:
    """Every page of the answer, and their lists joined."""
    answers = []
    marker = None
    while True:
        answer = iam.get_account_authorization_details(
            **request, **({"Marker": marker} if marker else {})
        )
        answers.append(answer)
        if not answer["IsTruncated"]:
            break
        marker = answer["Marker"]
        assert len(answers) < 100
    joined = {key: [item for a in answers for item in a.get(key, [])] for key in LISTS}
    return answers, joined


@pytest.mark.parametrize("size", [1, 2, 3, 1000])
def test_paged_roles_join_up_to_moto_s_own_answer(iam_world: World, size: int) -> None:
    iam = iam_world.inspect_iam
    # Given moto's own answer (one page, whatever MaxItems says)
    own = iam.get_account_authorization_details(Filter=["Role"], MaxItems=size)
    assert own["IsTruncated"] is False
    assert len(own["RoleDetailList"]) == 8

    # When the same is asked page by page at fleet scale
    with moto_scale.active():
        answers, joined = pages(iam, Filter=["Role"], MaxItems=size)

    # Then the pages are IAM's (at most MaxItems roles, a Marker while truncated) and
    # joined they are moto's answer: same roles, same order, same profiles
    assert [len(a["RoleDetailList"]) for a in answers[:-1]] == [size] * (len(answers) - 1)
    assert len(answers) == -(-8 // size)
    assert all("Marker" in a for a in answers[:-1]) and "Marker" not in answers[-1]
    assert joined["RoleDetailList"] == own["RoleDetailList"]
    profiles = {
        r["RoleName"]: [p["InstanceProfileName"] for p in r["InstanceProfileList"]]
        for r in joined["RoleDetailList"]
    }
    assert profiles["nodes.c1.k8s.example.com"] == ["nodes.c1.k8s.example.com", "second"]
    assert profiles["nodes.c0.k8s.example.com"] == []


def test_every_list_is_paged_in_moto_s_order(iam_world: World) -> None:
    iam = iam_world.inspect_iam
    own = iam.get_account_authorization_details()
    with moto_scale.active():
        answers, joined = pages(iam, MaxItems=3)
    assert len(answers) > 3
    for key in LISTS:
        assert joined[key] == own.get(key, []), key


def test_without_max_items_a_page_holds_iam_s_default_of_100() -> None:
    with make_world() as w:
        iam = w.inspect_iam
        for i in range(101):
            iam.create_role(RoleName=f"r{i:03d}", AssumeRolePolicyDocument=TRUST)
        own = iam.get_account_authorization_details(Filter=["Role"])
        with moto_scale.active():
            answers, joined = pages(iam, Filter=["Role"])
        assert [len(a["RoleDetailList"]) for a in answers] == [100, 1]
        assert joined["RoleDetailList"] == own["RoleDetailList"]


def test_outside_the_block_moto_answers_as_it_does() -> None:
    with make_world() as w:
        iam = w.inspect_iam
        for i in range(3):
            iam.create_role(RoleName=f"r{i}", AssumeRolePolicyDocument=TRUST)
        with moto_scale.active():
            assert iam.get_account_authorization_details(Filter=["Role"], MaxItems=1)["IsTruncated"]
        assert not moto_scale.is_active()
        assert not iam.get_account_authorization_details(Filter=["Role"], MaxItems=1)["IsTruncated"]


def test_roles_are_not_scanned_for_their_profiles(
    iam_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.iam.models import Role

    scans: list[str] = []
    scan = Role.instance_profile_list

    def counted(role: Any) -> Any:
        scans.append(role.name)
        return scan.fget(role)  # type: ignore[attr-defined]

    monkeypatch.setattr(Role, "instance_profile_list", property(counted))
    iam_world.inspect_iam.get_account_authorization_details(Filter=["Role"])
    assert scans  # moto's own answer scans every profile for each role
    scans.clear()
    with moto_scale.active():
        pages(iam_world.inspect_iam, Filter=["Role"], MaxItems=3)
    assert scans == []


def test_a_repeated_bulk_answer_is_served_until_iam_changes(iam_world: World) -> None:
    iam = iam_world.inspect_iam
    with moto_scale.active():
        # Given a bulk answer read twice
        served = moto_scale.BULK_ANSWERS.served
        _, first = pages(iam, Filter=["Role"], MaxItems=3)
        _, again = pages(iam, Filter=["Role"], MaxItems=3)
        # Then the second time it was served again, the same
        assert moto_scale.BULK_ANSWERS.served == served + 3
        assert again == first
        # When IAM changes through a request
        iam.put_role_policy(
            RoleName="nodes.c0.k8s.example.com", PolicyName="later", PolicyDocument=POLICY
        )
        _, after = pages(iam, Filter=["Role"], MaxItems=3)
    # Then the next answer is moto's, with the change
    own = iam.get_account_authorization_details(Filter=["Role"])["RoleDetailList"]
    assert after["RoleDetailList"] == own != first["RoleDetailList"]


def test_a_write_straight_to_the_backend_is_seen_once_announced(iam_world: World) -> None:
    from moto.iam.models import iam_backends

    iam = iam_world.inspect_iam
    backend = iam_backends[iam_world.account]["aws"]
    with moto_scale.active():
        _, first = pages(iam, Filter=["Role"], MaxItems=1000)
        backend.put_role_policy("nodes.c3.k8s.example.com", "direct", POLICY)
        _, stale = pages(iam, Filter=["Role"], MaxItems=1000)
        moto_scale.iam_changed()
        _, fresh = pages(iam, Filter=["Role"], MaxItems=1000)
    own = iam.get_account_authorization_details(Filter=["Role"])["RoleDetailList"]
    assert stale == first  # what the cache is: the answer of the last generation
    assert fresh["RoleDetailList"] == own != first["RoleDetailList"]


def _lookups(iam: Any, prefix: str) -> list[Any]:
    """Lookups, creates and deletes by name, with moto's errors, as the answers say them."""

    def outcome(call: Any, **params: Any) -> Any:
        try:
            answer = call(**params)
        except iam.exceptions.ClientError as error:
            return error.response["Error"]["Code"]
        role = answer.get("Role") or answer.get("InstanceProfile") or {}
        return (role.get("RoleName") or role.get("InstanceProfileName") or "ok").replace(
            prefix, "<p>"
        )

    seen = [
        outcome(iam.create_role, RoleName=f"{prefix}r{i}", AssumeRolePolicyDocument=TRUST)
        for i in range(4)
    ]
    seen += [
        outcome(iam.get_role, RoleName=f"{prefix}r2"),
        outcome(iam.get_role, RoleName=f"{prefix}missing"),
        outcome(iam.create_role, RoleName=f"{prefix}r1", AssumeRolePolicyDocument=TRUST),
        outcome(iam.delete_role, RoleName=f"{prefix}r1"),
        outcome(iam.get_role, RoleName=f"{prefix}r1"),
        outcome(iam.put_role_policy, RoleName=f"{prefix}r1", PolicyName="p", PolicyDocument=POLICY),
        outcome(iam.create_role, RoleName=f"{prefix}r1", AssumeRolePolicyDocument=TRUST),
        outcome(iam.put_role_policy, RoleName=f"{prefix}r1", PolicyName="p", PolicyDocument=POLICY),
        outcome(iam.create_instance_profile, InstanceProfileName=f"{prefix}p"),
        outcome(
            iam.add_role_to_instance_profile,
            InstanceProfileName=f"{prefix}p",
            RoleName=f"{prefix}r3",
        ),
        outcome(iam.get_instance_profile, InstanceProfileName=f"{prefix}p"),
        outcome(iam.get_instance_profile, InstanceProfileName=f"{prefix}none"),
        outcome(
            iam.add_role_to_instance_profile,
            InstanceProfileName=f"{prefix}none",
            RoleName=f"{prefix}r3",
        ),
        outcome(iam.delete_role, RoleName=f"{prefix}missing"),
    ]
    return seen


def test_iam_lookups_by_name_answer_as_moto_s(iam_world: World) -> None:
    iam = iam_world.inspect_iam
    own = _lookups(iam, "own-")
    with moto_scale.active():
        indexed = _lookups(iam, "indexed-")
    assert indexed == own
    assert "NoSuchEntity" in own and "EntityAlreadyExists" in own


def test_a_role_made_outside_the_block_is_found_inside_it(iam_world: World) -> None:
    iam = iam_world.inspect_iam
    with moto_scale.active():
        iam.get_role(RoleName="ci-deployer")  # the index is built
    iam.create_role(RoleName="made-outside", AssumeRolePolicyDocument=TRUST)
    iam.delete_role(RoleName="ci-deployer")
    with moto_scale.active():
        assert iam.get_role(RoleName="made-outside")["Role"]["RoleName"] == "made-outside"
        with pytest.raises(iam.exceptions.NoSuchEntityException):
            iam.get_role(RoleName="ci-deployer")


# -- SQS -------------------------------------------------------------------------------


def _queue_run(sqs: Any, url: str) -> list[Any]:
    """Receive everything ten at a time, delete in batches (a bad and a repeated handle
    among them), put some back; what each answer said, ids and handles left out."""
    seen: list[Any] = []
    for message in range(25):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{message}")
    rounds = 0
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        rounds += 1
        if not got or rounds > 20:
            break
        seen.append(sorted(m["Body"] for m in got))
        keep, drop = got[:2], got[2:]
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(drop)]
        entries.append({"Id": "bad", "ReceiptHandle": "not-a-handle"})
        for batch in (entries, entries[:1]):  # the second time: already deleted
            answer = sqs.delete_message_batch(QueueUrl=url, Entries=batch)
            seen.append(
                (
                    sorted(s["Id"] for s in answer.get("Successful", [])),
                    sorted(
                        (f["Id"], f["Code"], f["SenderFault"]) for f in answer.get("Failed", [])
                    ),
                )
            )
        if rounds == 1:  # the ones kept come back later
            continue
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(keep)
            ],
        )
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    seen.append({k: attributes[k] for k in attributes if k.startswith("ApproximateNumber")})
    return seen


def test_sqs_receives_and_batch_deletes_answer_as_moto_s() -> None:
    with make_world() as w:
        sqs = w.sqs
        own_url = sqs.create_queue(QueueName="own")["QueueUrl"]
        scaled_url = sqs.create_queue(QueueName="scaled")["QueueUrl"]
        own = _queue_run(sqs, own_url)
        with moto_scale.active():
            scaled = _queue_run(sqs, scaled_url)
    assert scaled == own
    failed = [f[0] for s in own if isinstance(s, tuple) for f in s[1]]
    assert failed and set(failed) == {"bad"}


# -- S3 --------------------------------------------------------------------------------

KEYS = (
    "a.k8s.example.com/config",
    "a.k8s.example.com/instancegroup/nodes",
    "a.k8s.example.com/instancegroup/master",
    "ab.k8s.example.com/config",
    "b.k8s.example.com/config",
    "b.k8s.example.com/instancegroup/nodes",
    "c.k8s.example.com/config",
)
LISTINGS: tuple[dict[str, Any], ...] = (
    {"Prefix": "a.k8s.example.com/instancegroup/"},
    {"Prefix": "a"},
    {"Prefix": "a", "Delimiter": "/"},
    {"Prefix": "b.k8s.example.com/", "MaxKeys": 1},
    {"Prefix": "a", "StartAfter": "a.k8s.example.com/instancegroup/master"},
    {"Prefix": "zzz"},
    {"Delimiter": "/"},
)


def _listings(s3: Any, bucket: str) -> list[Any]:
    found: list[Any] = []
    for request in LISTINGS:
        answer = s3.list_objects_v2(Bucket=bucket, **request)
        found.append(
            (
                [(o["Key"], o["ETag"], o["Size"]) for o in answer.get("Contents", [])],
                answer.get("CommonPrefixes", []),
                answer["IsTruncated"],
                answer["KeyCount"],
            )
        )
        if answer["IsTruncated"]:
            more = s3.list_objects_v2(
                Bucket=bucket, ContinuationToken=answer["NextContinuationToken"], **request
            )
            found.append([o["Key"] for o in more.get("Contents", [])])
        old = s3.list_objects(
            Bucket=bucket,
            **{k: v for k, v in request.items() if k in ("Prefix", "Delimiter", "MaxKeys")},
        )
        found.append([o["Key"] for o in old.get("Contents", [])])
    return found


def test_s3_prefix_listings_answer_as_moto_s_as_keys_come_and_go(world: World) -> None:
    s3 = world.inspect_s3
    for key in KEYS:
        world.put(key, b"x")
    world.put(KEYS[0], b"a newer version")
    for step in range(3):
        own = _listings(s3, world.bucket)
        with moto_scale.active():
            scaled = _listings(s3, world.bucket)
        assert scaled == own, step
        # a key deleted (a delete marker in this versioned bucket), another added
        s3.delete_object(Bucket=world.bucket, Key=KEYS[1 + step])
        world.put(f"a.k8s.example.com/instancegroup/new{step}", b"y")
    assert any(own)


def test_s3_prefix_listings_follow_a_key_removed_for_good() -> None:
    with make_world(versioned=False) as w:
        s3 = w.inspect_s3
        for key in KEYS:
            w.put(key, b"x")
        with moto_scale.active():
            before = _listings(s3, w.bucket)
            s3.delete_object(Bucket=w.bucket, Key=KEYS[1])
            after = _listings(s3, w.bucket)
        own = _listings(s3, w.bucket)
    assert after == own
    assert after != before
