"""AWS's managed policies as additionalPolicies: refused only by the documented rules.

IAM accepts every AWS managed policy, so a policy kops-iam refuses is refused by one of
the rules docs/policy-rules.md lists as stricter than IAM, by the escalation guardrail or
by IAM's size limit (the role's inline policies share 10,240 characters; AWS's managed
policies are not bound by it). The corpus is moto's copy of the managed policies
(tests/data/aws-managed-policies.json.xz; ``scripts/build_policy_corpus.py`` refreshes
it); each policy is validated as ``spec.additionalPolicies.node`` of the smallest valid
cluster, through the Python API, in this process. The counts per rule must be the ones
the docs table shows.
"""

from __future__ import annotations

import collections
import functools
import json
import lzma
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
from specs import cluster_doc

from kops_iam.domain.additional_policies import checks
from kops_iam.domain.catalogue import default_catalogue
from kops_iam.domain.errors import Issue, SpecInvalid
from kops_iam.domain.guardrail import escalations
from kops_iam.domain.options import Options
from kops_iam.domain.pipeline import validate_spec
from kops_iam.domain.policy import (
    MAX_INLINE_POLICY_CHARS,
    node_statements,
    policy_document,
    policy_size,
)

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "aws-managed-policies.json.xz"
DOCS = ROOT / "docs" / "policy-rules.md"
FIELD = "spec.additionalPolicies.node"

#: Each rule of docs/policy-rules.md: what its messages say (errors and warnings).
RULES: dict[str, re.Pattern[str]] = {
    rule: re.compile(pattern)
    for rule, pattern in {
        "shape": r"must be a string holding a JSON array|must hold a JSON array|is empty; it "
        r"must hold|must be a JSON object \(an IAM statement\)",
        "json": r"is not valid JSON",
        "empty": r"holds an empty array",
        "statement-count": r"statements; kops-iam checks at most",
        "duplicate-key": r"appears more than once|^repeats ",
        "keys": r"unknown statement key",
        "principal": r"is not allowed in a role's own \(identity\) policy",
        "effect": r"must be Allow or Deny|needs Effect",
        "one-of": r"has both \w+ and \w+|needs (Action|Resource) \(or",
        "sid": r"is not a valid Sid|duplicate Sid",
        "value-type": r"must be a string or a list of strings|must be a string, found|must not "
        r"be an empty list",
        "characters": r"which IAM does not allow in a policy",
        "action-grammar": r"is not an IAM action: write|leading or trailing whitespace|is longer "
        r"than any IAM action|is not an IAM service prefix",
        "action-non-ascii": r"contains non-ASCII",
        "action-service-wildcard": r"wildcards are not allowed in the service prefix",
        "action-misspelled": r"; did you mean .*\(kops-iam's IAM action catalogue",
        "action-unknown": r"refuses actions its catalogue does not list|others it does not list",
        "action-newer": r"in kops-iam's IAM action catalogue.*; accepted, as IAM accepts it",
        "action-retired": r"is retired: .*; IAM accepts it, and it can be removed",
        "resource-arn": r"is not \* or an ARN",
        "resource-partition": r"ARN partition does not match",
        "resource-region": r"ARNs name a Region only|ARNs have no Region",
        "resource-iam-type": r"an IAM resource is \* or one of IAM's resource types",
        "condition-shape": r"must be an object of condition|needs at least one condition key",
        "condition-operator": r"unknown condition operator|is not a condition operator",
        "condition-key": r"is not a condition key",
        "condition-value": r" takes (true or false|a number|a date|an IP address)|must be a "
        r"string, number or boolean",
        "size": r"over IAM's 10,240 limit",
        "guardrail": r"escalate its own privileges",
        "warning-count": r"more warnings like the \d+ above are not listed",
    }.items()
}
CATALOGUE = default_catalogue()
#: Rules whose refusals (or warnings) are counted in the docs' second table, by setting.
CATALOGUE_REFUSALS = ("action-misspelled", "action-unknown")


@functools.cache
def corpus() -> dict[str, list[dict[str, Any]]]:
    """Policy name -> its statements (a single statement made a list)."""
    document = json.loads(lzma.decompress(CORPUS.read_bytes()))
    return {
        name: statements if isinstance(statements, list) else [statements]
        for name, record in document["policies"].items()
        for statements in [record["Document"]["Statement"]]
    }


def spec_text(statements: list[dict[str, Any]]) -> str:
    """The smallest valid cluster spec with ``statements`` as the node's additionalPolicies."""
    return json.dumps(cluster_doc(additionalPolicies={"node": json.dumps(statements)}))


def validate(statements: list[dict[str, Any]], options: Options) -> tuple[Issue, ...]:
    """Every error and warning of the spec, each tagged by rule (errors first)."""
    try:
        spec = validate_spec(spec_text(statements), options)
    except SpecInvalid as invalid:
        return invalid.errors + tuple(Issue("warning", str(w)) for w in invalid.warnings)
    return tuple(Issue("warning", str(w)) for w in spec.warnings)


def rule_of(issue: Issue) -> str:
    """The docs rule an error or warning comes from (the message, without its path)."""
    message = issue.message.split(": ", 1)[1] if issue.path == "warning" else issue.message
    found = [rule for rule, pattern in RULES.items() if pattern.search(message)]
    assert len(found) == 1, f"{issue}: matches {found or 'no documented rule'}"
    return found[0]


def policies_by_rule(
    names: Iterable[str], options: Options
) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Rule -> names of the policies it refuses, and rule -> names of those it warns about."""
    refused: dict[str, set[str]] = collections.defaultdict(set)
    warned: dict[str, set[str]] = collections.defaultdict(set)
    for name in names:
        for issue in validate(corpus()[name], options):
            (warned if issue.path == "warning" else refused)[rule_of(issue)].add(name)
    return refused, warned


def documented_counts(table: str) -> dict[str, int]:
    """Rule -> count from one table of docs/policy-rules.md (its first and last columns)."""
    text = DOCS.read_text()
    match = re.search(rf"<!-- corpus:{table} -->\n(.*?)\n<!-- /corpus:{table} -->", text, re.S)
    assert match, f"docs/policy-rules.md: the corpus:{table} table is missing"
    counts = {}
    for row in match.group(1).splitlines()[2:]:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        rule = re.fullmatch(r"`([a-z-]+)`", cells[0])
        assert rule, row
        counts[rule.group(1)] = int(cells[-1].replace(",", ""))
    return counts


def measured(found: Mapping[str, set[str]], rules: Iterable[str]) -> dict[str, int]:
    return {rule: len(found.get(rule, ())) for rule in rules}


@pytest.fixture(scope="module")
def default_run() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Every managed policy validated with the default settings (about ten seconds).

    Every warning is counted, not only the first ``MAX_WARNINGS`` of a value a reader sees.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(checks, "MAX_WARNINGS", 1_000_000)
        return policies_by_rule(corpus(), Options())


# -- the corpus and the docs ----------------------------------------------------------------


def test_the_corpus_is_the_one_the_docs_describe() -> None:
    policies = corpus()
    statements = sum(len(s) for s in policies.values())
    assert (len(policies), statements) == (1582, 8850)
    assert "1,582 AWS managed policies" in DOCS.read_text()


def test_every_documented_rule_is_classified_here_and_back() -> None:
    documented = set(documented_counts("refusals")) | set(documented_counts("warnings"))
    assert documented == set(RULES) - {"warning-count"}


# -- default settings -----------------------------------------------------------------------


def test_managed_policies_are_refused_only_by_the_documented_rules_in_their_counts(
    default_run: tuple[dict[str, set[str]], dict[str, set[str]]],
) -> None:
    # Given every AWS managed policy validated with the default settings
    refused, warned = default_run
    # Then each rule refuses (or warns about) as many policies as the docs say
    refusals = documented_counts("refusals")
    assert measured(refused, refusals) == refusals
    warnings = documented_counts("warnings")
    assert measured(warned, warnings) == warnings
    # And nothing is refused because the catalogue is older than AWS (issue 14: 141 before)
    assert not refused.keys() & set(CATALOGUE_REFUSALS)
    # And every refusal is the guardrail's, IAM's size limit's or a stricter rule's
    assert set(refused) <= {"guardrail", "size"}


def test_the_operator_can_restore_refusing_every_name_the_catalogue_lacks(
    default_run: tuple[dict[str, set[str]], dict[str, set[str]]],
) -> None:
    # Given the policies that name actions the catalogue does not list (warned by default)
    _, warned = default_run
    names = warned["action-newer"] | warned["action-retired"]
    # When they are validated with unknown_actions="error"
    refused, _ = policies_by_rule(sorted(names), Options(unknown_actions="error"))
    # Then each of them is refused for it, as many as the docs say
    strict = documented_counts("strict")
    assert measured(refused, strict) == strict
    assert refused["action-unknown"] == names


# -- issue 14: the ten wrongly refused policies -----------------------------------------------

#: Refused before by two rules broader than IAM's (S3 Regions, IAM resource types).
WRONGLY_REFUSED = {
    "AWSBackupAccessPointOperatorAccess": "arn:aws:s3:*:*:accesspoint/*",
    "AWSPanoramaApplianceServiceRolePolicy": "arn:aws:s3:*:*:accesspoint/panorama*",
    "SageMakerStudioEMRInstanceRolePolicy": "arn:aws:s3:*:*:accesspoint/env-blueprint-",
    "SageMakerStudioFullAccess": "arn:aws:s3:*:*:accesspoint/env-blueprint-",
    "SageMakerStudioProjectRoleMachineLearningPolicy": "access-grants/default",
    "IAMAuditRootUserCredentials": "arn:aws:iam::*:root",
    "IAMCreateRootUserPassword": "arn:aws:iam::*:root",
    "IAMDeleteRootUserCredentials": "arn:aws:iam::*:root",
    "AWSCloudWatchOmniServiceRolePolicy": "arn:aws:iam::aws:role-template/",
    "AWSObservabilityAdminTelemetryEnablementServiceRolePolicy": (
        "arn:aws:iam::aws:role-template/"
    ),
}


@pytest.mark.parametrize(("name", "arn"), WRONGLY_REFUSED.items(), ids=list(WRONGLY_REFUSED))
def test_the_policies_refused_for_their_arns_are_accepted(name: str, arn: str) -> None:
    # Given a managed policy whose ARNs were refused by rules broader than IAM's
    statements = corpus()[name]
    assert arn in json.dumps(statements)
    # When validated with the default settings
    errors = [issue for issue in validate(statements, Options()) if issue.path != "warning"]
    # Then no ARN is refused: only the guardrail (or IAM's size limit) can refuse it, and the
    # guardrail only for an action entry that covers an escalation action
    assert {rule_of(issue) for issue in errors} <= {"guardrail", "size"}, errors
    for issue in errors:
        if rule_of(issue) == "guardrail":
            written = re.match(r"(\S+) (lets|covers) ", issue.message)
            assert written, issue
            assert escalations([written.group(1)], not_action=False, catalogue=CATALOGUE), issue
            assert written.group(1) in json.dumps(statements), issue


# -- IAM's size limit -----------------------------------------------------------------------


def role_size(statements: list[dict[str, Any]]) -> int:
    """What IAM counts for the node role: kops-iam's node policy plus these statements."""
    own = policy_size(policy_document(node_statements()))
    return own + policy_size(policy_document(statements))


def test_every_policy_over_iams_size_limit_is_refused_for_it() -> None:
    # Given the managed policies too large for a role, computed without kops-iam's checks
    over = {name for name, s in corpus().items() if role_size(s) > MAX_INLINE_POLICY_CHARS}
    documented = re.search(r"\*\*([\d,]+)\*\* of them are over IAM's limit", DOCS.read_text())
    assert documented and len(over) == int(documented.group(1))
    # When validated with every escalation approved (nothing else refuses them)
    refused, _ = policies_by_rule(sorted(over), Options(allowed_actions=frozenset({"*"})))
    # Then each is refused for its size, and for nothing else
    assert refused == {"size": over}


def test_size_is_reported_with_other_errors_when_the_statements_alone_exceed_it() -> None:
    # Given the oversized managed policies, validated with the default settings
    over = {name for name, s in corpus().items() if role_size(s) > MAX_INLINE_POLICY_CHARS}
    refused, _ = policies_by_rule(sorted(over), Options())
    # Then those too large on their own are reported for size even when the guardrail also
    # refuses them; the rest only exceed with kops-iam's own policy, which is checked once
    # the spec is otherwise valid
    alone = {name for name in over if policy_size(policy_document(corpus()[name])) > 10_240}
    assert refused["size"] == alone | (over - refused["guardrail"])
    assert len(refused["size"]) == documented_counts("refusals")["size"]
