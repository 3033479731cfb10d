"""The drift queue as a trust boundary, property-based (issue 15): a message on the drift
queue names a key, and a key names a cluster; a forged or mangled message must not make the
function touch anything beyond what that key's own spec says.

Anyone allowed ``sqs:SendMessage`` on the drift queue can put any body there. For arbitrary
batches of such bodies (well-formed drift checks naming crafted keys: other clusters'
keys, a gone cluster's key, InstanceGroup keys, traversal, doubled or missing slashes,
encodings, control characters, case; and malformed bodies), on a world with an applied
cluster (drifted by hand or not) and a cluster whose spec is gone but whose roles remain:

* no invocation raises, no check is reported failed, nothing reaches the dead-letter queue
  (a check that cannot be mended is dropped, not retried forever);
* IAM is written only to correct the drifted cluster, and only when some message named
  exactly its spec key: never for a key that merely looks like it;
* no role, instance profile or policy is deleted: a drift check never deletes, even for a
  cluster whose spec is gone (its own ``Object Deleted`` event does that);
* every audit event names the cluster of a key some message named.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
import rel_scenarios
import rel_support
import support.world as W
from hypothesis import given, settings
from hypothesis import strategies as st
from spec_builders import allow, spec

from kops_iam.application.settings import Settings
from kops_iam.aws.events import DRIFT_CHECK, DRIFT_MESSAGE_VERSION, drift_message
from kops_iam.domain.naming import role_name
from kops_iam.domain.state_store import cluster_from_key
from kops_iam_tools.world.events import object_event, s3_notification, s3_record, scheduled_event

PART = "drift-queue"
PROFILE = "reliability-long" if rel_support.LONG else "reliability-fast"
CASES = rel_support.budget(10, 120)

APPLIED = "a.k8s.example.com"
GONE = "gone.k8s.example.com"
NEVER = "b.k8s.example.com"
KINDS = ("master", "node")


def _crafted(cluster: str) -> list[str]:
    """Keys that look like ``cluster``'s spec key and are not, and its real ones."""
    key = f"{cluster}/config"
    return [
        key,
        f"{cluster}/instancegroup/nodes",
        f"{cluster}/config/",
        f"/{key}",
        f"{cluster}//config",
        f"../{key}",
        f"{cluster}/../{GONE}/config",
        f"{cluster}%2Fconfig",
        f"{key}\x00",
        f"{key} ",
        f" {key}",
        f"{key}\n",
        key.upper(),
        f"{cluster}.evil.example.com/config",
        f"x.{key}",
        f"{cluster}/config.bak",
        f"{cluster}/cluster.spec",
    ]


KEYS = st.one_of(
    st.sampled_from(_crafted(APPLIED) + _crafted(GONE) + _crafted(NEVER)),
    st.text(max_size=80),
    st.builds(
        lambda cluster, middle, tail: f"{cluster}{middle}{tail}",
        st.sampled_from((APPLIED, GONE, NEVER, "")),
        st.sampled_from(("/", "//", "/./", "\\", "/\u2215", "")),
        st.sampled_from(("config", "Config", "config\u200b", "instancegroup/x", "")),
    ),
)

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)


@st.composite
def bodies(draw: st.DrawFn) -> str:
    """One message body: a well-formed drift check, a damaged one, another event the
    function knows (a schedule, an S3 event, a deletion above all), or anything at all."""
    shape = draw(st.sampled_from(("check", "check", "check", "damaged", "event", "noise")))
    if shape == "event":
        key = draw(st.sampled_from(_crafted(APPLIED)[:2] + _crafted(GONE)[:2]))
        deleted = draw(st.booleans())
        event = draw(
            st.sampled_from(
                (
                    scheduled_event(),
                    object_event(key, bucket=W.BUCKET, deleted=deleted),
                    s3_notification(
                        s3_record(
                            key,
                            bucket=W.BUCKET,
                            event_name="ObjectRemoved:Delete" if deleted else "ObjectCreated:Put",
                        )
                    ),
                )
            )
        )
        return json.dumps(event)
    if shape == "check":
        return json.dumps(drift_message(draw(KEYS), "forged-run", draw(st.floats(0, 4e9))))
    if shape == "damaged":
        body: dict[str, Any] = {
            "kind": draw(st.sampled_from((DRIFT_CHECK, "kops-iam/other", ""))),
            "v": draw(st.sampled_from((DRIFT_MESSAGE_VERSION, 0, 99, "1"))),
            "key": draw(KEYS | JSON_VALUES),
            "run": draw(st.text(max_size=8) | JSON_VALUES),
            "runStarted": draw(st.floats(allow_nan=False) | JSON_VALUES),
        }
        for name in draw(st.sets(st.sampled_from(sorted(body)))):
            del body[name]
        return json.dumps(body)
    return draw(st.text(min_size=1, max_size=60) | JSON_VALUES.map(json.dumps))


@dataclass(frozen=True)
class Story:
    drifted: bool
    bodies: tuple[str, ...]


@st.composite
def stories(draw: st.DrawFn) -> Story:
    return Story(
        drifted=draw(st.booleans()),
        bodies=tuple(draw(st.lists(bodies(), min_size=1, max_size=12))),
    )


def _iam_state(iam: Any) -> dict[str, Any]:
    """Every role with its inline and attached policies, every instance profile's roles."""
    roles = {}
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            name = role["RoleName"]
            roles[name] = (
                sorted(iam.list_role_policies(RoleName=name)["PolicyNames"]),
                sorted(
                    p["PolicyArn"]
                    for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
                ),
            )
    profiles = {
        p["InstanceProfileName"]: sorted(r["RoleName"] for r in p["Roles"])
        for page in iam.get_paginator("list_instance_profiles").paginate()
        for p in page["InstanceProfiles"]
    }
    return {"roles": roles, "profiles": profiles}


def _spec(cluster: str) -> str:
    return spec(cluster, additional={"node": [allow("s3:GetObject")]})


@pytest.mark.usefixtures("no_backoff_sleep", "quiet_kops_iam_logs")
@settings(settings.get_profile(PROFILE), max_examples=CASES)
@given(story=stories())
def test_a_forged_drift_check_touches_only_what_its_own_spec_says(story: Story) -> None:
    settings_ = Settings(bucket=W.BUCKET, bus_name=W.BUS, drift_threads=1).with_account(W.ACCOUNT)
    with rel_scenarios.world(settings_, kms_key=False) as world:
        # Given an applied cluster and one whose spec is gone (its roles remain)
        for cluster in (APPLIED, GONE):
            world.upload(cluster, _spec(cluster))
        world.deliver()
        world.delete(GONE)
        node = role_name("node", APPLIED)
        if story.drifted:
            world.inspect_iam.put_role_policy(
                RoleName=node,
                PolicyName="handmade",
                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [allow("iam:*")]}),
            )
        world.audit()
        before = _iam_state(world.inspect_iam)
        assert {role_name(k, c) for k in KINDS for c in (APPLIED, GONE)} <= set(before["roles"])
        world.wire.reset_counts()

        # When forged messages reach the drift queue and the queue hands them over
        for body in story.bodies:
            world.sqs.send_message(QueueUrl=world.drift_queue.url, MessageBody=body)
        invocations = world.drift_checks(world.runtime())

        # Then nothing failed, and nothing is left to retry
        for invocation in invocations:
            assert invocation.raised is None, invocation.raised
            assert not (invocation.summary or {}).get("batchItemFailures"), invocation.summary
        assert world.drift_dead_letters() == []

        named = {cluster_from_key(k) for k in _keys(story.bodies)} - {None}
        writes = [w for i in invocations for w in i.applied]
        after = _iam_state(world.inspect_iam)
        expected = dict(before)
        if story.drifted and APPLIED in named:
            # the drift the applied cluster's own key names is corrected, and only that
            assert writes == [f"delete_role_policy {node}/handmade"], writes
            roles = dict(before["roles"])
            inline, attached = roles[node]
            roles[node] = ([p for p in inline if p != "handmade"], attached)
            expected = {"roles": roles, "profiles": before["profiles"]}
        else:
            assert writes == [], writes
        # nothing deleted, nothing added, in particular the gone cluster's roles
        assert after == expected
        for invocation in invocations:
            for event in invocation.audit:
                assert event["detail"]["cluster"] in named, event["detail"]
                assert event["detail-type"] != "Cluster Deleted", event["detail"]
    rel_support.record(PART, "stories")
    rel_support.record(PART, "messages", len(story.bodies))
    rel_support.record(PART, "corrections", int(bool(writes)))
    rel_support.record(
        PART, "forged_events", sum('"Records"' in b or '"detail-type"' in b for b in story.bodies)
    )


def _keys(raw: tuple[str, ...]) -> list[str]:
    """The keys of the well-formed drift checks among ``raw`` message bodies."""
    keys = []
    for body in raw:
        try:
            decoded = json.loads(body)
        except ValueError:
            continue
        if isinstance(decoded, dict) and isinstance(decoded.get("key"), str):
            keys.append(decoded["key"])
    return keys
