"""Audit events: always under EventBridge's entry limit; publishing retries and never raises."""

from __future__ import annotations

import json
import logging
from typing import Any

from botocore.exceptions import ClientError

from kops_iam.aws.audit import (
    AUDIT_SOURCE,
    MAX_ENTRY_BYTES,
    TRUNCATION_MARKER,
    AuditEvent,
    AuditPublisher,
    DetailType,
    entry_size,
    fit_detail,
    make_event,
)

IDENTITY = {
    "schemaVersion": "1",
    "cluster": "c.k8s.example.com",
    "bucket": "b",
    "key": "c.k8s.example.com/config",
    "versionId": "v1",
    "etag": "e",
    "requestId": "r",
    "mode": "apply",
    "trigger": "s3",
    "objectState": "present",
    "passes": 1,
}


def policy_change(n: int) -> dict[str, Any]:
    actions = [f"svc:Action{i:05d}" for i in range(n)]
    return {
        "kind": "node",
        "roleName": "nodes.c",
        "action": "update",
        "trustPolicy": {"before": {"Statement": ["x" * 1000]}, "after": None},
        "inlinePolicies": {
            "additional.nodes.c": {
                "change": "modified",
                "actions": {"added": actions, "removed": []},
                "resources": {"added": [f"arn:aws:s3:::b/{a}" for a in actions], "removed": []},
                "statements": {"added": [{"Action": actions}], "removed": []},
            }
        },
    }


def test_a_small_detail_is_kept_whole() -> None:
    detail = {**IDENTITY, "changes": [policy_change(3)]}
    fitted = fit_detail(DetailType.SPEC_APPLIED, detail)
    assert fitted == {**detail, "truncated": False}


def test_a_large_detail_loses_documents_first_then_list_items_with_markers() -> None:
    # Given a diff a little over the limit because of the full statements
    detail = {**IDENTITY, "changes": [policy_change(4000)]}
    assert entry_size(DetailType.SPEC_APPLIED, detail) > MAX_ENTRY_BYTES

    # When it is fitted
    fitted = fit_detail(DetailType.SPEC_APPLIED, detail)

    # Then it fits, says it was truncated, keeps its identity, and marks what was cut
    assert entry_size(DetailType.SPEC_APPLIED, fitted) <= MAX_ENTRY_BYTES
    assert fitted["truncated"] is True
    assert all(fitted[k] == v for k, v in IDENTITY.items())
    policy = fitted["changes"][0]["inlinePolicies"]["additional.nodes.c"]
    assert policy["statements"] == TRUNCATION_MARKER
    assert fitted["changes"][0]["trustPolicy"] == TRUNCATION_MARKER
    assert len(policy["actions"]["added"]) == 4000  # dropping the documents was enough


def test_lists_are_cut_with_a_marker_saying_how_many_items_went() -> None:
    detail = {**IDENTITY, "changes": [policy_change(20000)]}
    fitted = fit_detail(DetailType.SPEC_APPLIED, detail)
    assert entry_size(DetailType.SPEC_APPLIED, fitted) <= MAX_ENTRY_BYTES
    added = fitted["changes"][0]["inlinePolicies"]["additional.nodes.c"]["actions"]["added"]
    assert added[:2] == ["svc:Action00000", "svc:Action00001"]
    assert added[-1] == f"{TRUNCATION_MARKER} ({20000 - (len(added) - 1)} more)"


def test_an_enormous_detail_still_fits_with_identity_kept() -> None:
    detail = {
        **IDENTITY,
        "errors": [{"path": f"p[{i}]", "message": "m" * 3000} for i in range(300)],
        "changes": [policy_change(100) for _ in range(300)],
    }
    fitted = fit_detail(DetailType.SPEC_REJECTED, detail, limit=8 * 1024)
    assert entry_size(DetailType.SPEC_REJECTED, fitted) <= 8 * 1024
    assert fitted["truncated"] is True
    assert fitted["cluster"] == IDENTITY["cluster"] and fitted["etag"] == "e"


def test_the_entry_carries_source_detail_type_bus_and_resources() -> None:
    event = make_event(DetailType.SPEC_APPLIED, IDENTITY, ["arn:aws:s3:::b/k"])
    entry = event.entry("bus")
    assert entry["Source"] == AUDIT_SOURCE
    assert entry["DetailType"] == DetailType.SPEC_APPLIED
    assert entry["EventBusName"] == "bus"
    assert entry["Resources"] == ["arn:aws:s3:::b/k"]
    assert json.loads(entry["Detail"])["cluster"] == IDENTITY["cluster"]


class FakeEvents:
    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.calls = 0

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]


def test_the_publisher_retries_failed_entries_then_succeeds() -> None:
    failed = {
        "FailedEntryCount": 1,
        "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "x"}],
    }
    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "x"}}, "PutEvents")
    events = FakeEvents([failed, throttled, {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}])
    delays: list[float] = []
    publisher = AuditPublisher(events, "bus", attempts=4, sleep=delays.append)  # type: ignore[arg-type]
    assert publisher.publish(AuditEvent(DetailType.SPEC_APPLIED, IDENTITY)) is True
    assert events.calls == 3
    assert delays == [0.2, 0.4]


def test_the_publisher_gives_up_without_raising_and_logs_the_event(
    caplog: Any, monkeypatch: Any
) -> None:
    # Listen on the module's own logger: once the handler is imported (other tests in the
    # worker), Powertools may stop "kops-iam" records from reaching caplog's root.
    # Other tests of a worker may also have raised the "kops-iam" logger's level.
    audit_log = logging.getLogger("kops-iam.audit")
    caplog.set_level(logging.ERROR, logger=audit_log.name)
    monkeypatch.setattr(audit_log, "handlers", [*audit_log.handlers, caplog.handler])
    events = FakeEvents([RuntimeError("down")] * 3)
    publisher = AuditPublisher(events, "bus", attempts=3, sleep=lambda _s: None)  # type: ignore[arg-type]
    assert publisher.publish(AuditEvent(DetailType.SPEC_APPLIED, IDENTITY)) is False
    assert events.calls == 3
    [lost] = {id(r): r for r in caplog.records if r.levelname == "ERROR"}.values()
    assert "audit event lost" in lost.getMessage()
    assert lost.audit_event["detail"]["cluster"] == IDENTITY["cluster"]  # type: ignore[attr-defined]
