"""Fidelity to kops itself: every case of the golden corpus (``tests/golden/kops``: kops'
integration inputs with the IAM kops produced, kops 1.8.0's own goldens, the apiVersion
forms kops wrote) renders as kops did, or differs only by a deviation documented in
docs/kops-fidelity.md, the one place deviations are listed (this file knows none by name).

Each input is fed as the whole multi-document file kops' test fed. The comparison is
semantic: a policy is a set of atoms (effect, action, resource, condition), so statement
order, splitting, ``Sid`` and ``Action``/``Resource`` as a string or a list do not matter.
Lookups are the kops test harness': its mock Route53 and region ``us-test-1``.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from kops_iam.domain.errors import SpecInvalid
from kops_iam.domain.lookups import HostedZone, Lookups, select_zone
from kops_iam.domain.model import ClusterPlan, JSONDict
from kops_iam.domain.naming import truncate_name
from kops_iam.domain.options import Options
from kops_iam.domain.pipeline import plan_spec

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "golden" / "kops"
FIDELITY = ROOT / "docs" / "kops-fidelity.md"
ACCOUNT = "111122223333"


# -- the deviations, read from docs/kops-fidelity.md -----------------------------------------


@dataclass(frozen=True)
class Deviation:
    """One documented deviation: its id and the machine-readable rule of its doc block."""

    id: str
    check: str
    rule: Mapping[str, Any]

    def applies(self, mode: str, role: str | None = None) -> bool:
        modes = self.rule.get("modes")
        roles = self.rule.get("roles")
        return (modes is None or mode in modes) and (role is None or roles is None or role in roles)


_BLOCK = re.compile(r"^```yaml {\.deviation}\n(.*?)^```", re.MULTILINE | re.DOTALL)


@functools.cache
def deviations() -> dict[str, Deviation]:
    found: dict[str, Deviation] = {}
    for block in _BLOCK.findall(FIDELITY.read_text()):
        rule = yaml.safe_load(block)
        assert rule["id"] not in found, f"deviation {rule['id']} is documented twice"
        found[rule["id"]] = Deviation(rule["id"], rule["check"], rule)
    return found


def of_check(check: str) -> list[Deviation]:
    return [d for d in deviations().values() if d.check == check]


# -- the corpus ---------------------------------------------------------------------------


@functools.cache
def corpus() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CORPUS / "cases.json").read_text())
    return data


def cases(kind: str) -> list[dict[str, Any]]:
    return [c for c in corpus()["cases"] if c["kind"] == kind]


def harness_lookups() -> Lookups:
    zones = [
        HostedZone(z["id"], z["name"], z["private"]) for z in corpus()["harness"]["hostedZones"]
    ]
    return Lookups(hosted_zone=lambda query: select_zone(query, zones))


# -- semantic comparison ------------------------------------------------------------------

Atom = tuple[str, str, str, str]


def _list(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else list(value or [])


def atoms(document: JSONDict | None) -> set[Atom]:
    """The policy as a set of (effect, action, resource, condition) grants."""
    found: set[Atom] = set()
    for statement in _list((document or {}).get("Statement")):
        condition = json.dumps(statement.get("Condition") or {}, sort_keys=True)
        for action in _list(statement.get("Action")):
            for resource in _list(statement.get("Resource")):
                found.add((statement["Effect"], action.lower(), resource, condition))
    return found


def canonical_trust(document: JSONDict) -> Any:
    return sorted(
        json.dumps(
            {**s, "Action": sorted(_list(s["Action"])), "Principal": s["Principal"]}, sort_keys=True
        )
        for s in _list(document["Statement"])
    )


def claimed(atom: Atom, side: str, role: str, mode: str) -> list[str]:
    """Ids of the policy deviations that explain ``atom`` granted only on ``side``."""
    key = "kops-only" if side == "kops" else "kops-iam-only"
    hits = []
    for deviation in of_check("policy"):
        if not deviation.applies(mode, role):
            continue
        for pattern in deviation.rule.get(key, []):
            if re.fullmatch(pattern["action"], atom[1], re.IGNORECASE) and re.fullmatch(
                pattern.get("resource", ".*"), atom[2]
            ):
                hits.append(deviation.id)
                break
    return hits


@dataclass
class Verdict:
    """How one case compares: the deviations it needed, and anything unexplained."""

    case: str
    deviations: set[str] = field(default_factory=set)
    unexplained: list[str] = field(default_factory=list)

    def explain(self, deviation_ids: list[str], what: str) -> None:
        if deviation_ids:
            self.deviations.update(deviation_ids)
        else:
            self.unexplained.append(what)


def compare_policy(
    verdict: Verdict, role: str, mode: str, ours: JSONDict, kops: JSONDict, what: str
) -> None:
    mine, theirs = atoms(ours), atoms(kops)
    for atom in sorted(theirs - mine):
        verdict.explain(claimed(atom, "kops", role, mode), f"{what}: kops only {atom}")
    for atom in sorted(mine - theirs):
        verdict.explain(claimed(atom, "kops-iam", role, mode), f"{what}: kops-iam only {atom}")


# -- rendering a case, with the input deviations --------------------------------------------


def replacements(text: str) -> dict[str, str]:
    """The documented input replacements whose text occurs in ``text``."""
    found: dict[str, str] = {}
    for deviation in of_check("input"):
        for old, new in deviation.rule.get("replace", {}).items():
            if old in text:
                found[old] = new
    return found


def render(case: dict[str, Any], verdict: Verdict) -> tuple[ClusterPlan, dict[str, str]]:
    """Plan the case's input as kops-iam does; an input kops' harness made up that AWS (and
    kops-iam) rejects must be rejected exactly as documented, then is rendered with the
    documented replacement."""
    text = (CORPUS / case["input"]).read_text()
    options = Options(account_id=ACCOUNT)
    try:
        return plan_spec(text.encode(), options, lookups=harness_lookups()), {}
    except SpecInvalid as exc:
        for error in exc.errors:
            ids = [
                d.id
                for d in of_check("input")
                if any(
                    re.search(r["path"], error.path) and re.search(r["message"], error.message)
                    for r in d.rule.get("rejects", [])
                )
            ]
            verdict.explain(ids, f"rejected: {error}")
    replaced = replacements(text)
    for old, new in replaced.items():
        text = text.replace(old, new)
    return plan_spec(text.encode(), options, lookups=harness_lookups()), replaced


def substitute(value: Any, replaced: Mapping[str, str]) -> Any:
    text = json.dumps(value)
    for old, new in replaced.items():
        text = text.replace(json.dumps(old)[1:-1], json.dumps(new)[1:-1])
    return json.loads(text)


# -- the checks per case ------------------------------------------------------------------


def kops_mode(case: dict[str, Any]) -> str:
    mode: str = case["kops"]["mode"]
    return "legacy" if mode == "pre-strict" else mode


def compare_mode(verdict: Verdict, case: dict[str, Any], mode: str) -> None:
    kops = kops_mode(case)
    if mode == kops:
        return
    block = "present" if case["kops"]["iamBlockPresent"] else "absent"
    ids = [
        d.id
        for d in of_check("mode")
        if (d.rule["kops"], d.rule["kops-iam"], d.rule["iam-block"]) == (kops, mode, block)
    ]
    verdict.explain(ids, f"mode {mode}, kops {kops} ({case['kops']['why']}; iam block {block})")


def judge_integration(case: dict[str, Any]) -> Verdict:
    verdict = Verdict(case["id"])
    plan, replaced = render(case, verdict)
    mode = plan.iam_mode
    compare_mode(verdict, case, mode)
    expected = substitute(case["roles"], replaced)
    if set(plan.roles) != set(expected):
        verdict.unexplained.append(f"roles {sorted(plan.roles)}, kops {sorted(expected)}")
    for kind, kops_role in expected.items():
        if kind not in plan.roles:
            continue
        ours = plan.roles[kind]
        what = f"{kind}"
        if ours.role_name != kops_role["roleName"]:
            verdict.unexplained.append(f"{what} role {ours.role_name} != {kops_role['roleName']}")
        profile = kops_role["instanceProfileName"]
        if profile is not None and profile != ours.instance_profile_name:
            verdict.unexplained.append(f"{what} profile {ours.instance_profile_name} != {profile}")
        if set(ours.inline_policies) != set(kops_role["policies"]):
            verdict.unexplained.append(
                f"{what} inline policies {sorted(ours.inline_policies)} != "
                f"{sorted(kops_role['policies'])}"
            )
        trust = kops_role["assumeRolePolicy"]
        if trust is not None and canonical_trust(trust) != canonical_trust(ours.assume_role_policy):
            verdict.unexplained.append(f"{what} trust policy differs")
        compare_tags(verdict, what, dict(ours.tags), kops_role["tags"])
        compare_tags(
            verdict, f"{what} instance profile", dict(ours.tags), kops_role["instanceProfileTags"]
        )
        if kops_role["permissionsBoundary"] != ours.permissions_boundary:
            verdict.unexplained.append(
                f"{what} boundary {ours.permissions_boundary} != {kops_role['permissionsBoundary']}"
            )
        if set(kops_role["managedPolicies"]) != set(ours.managed_policy_arns):
            verdict.unexplained.append(f"{what} managed policies differ")
        documents = {n: d for n, d in kops_role["policies"].items() if d is not None}
        if not case["kops"]["documentsKept"]:
            verdict.explain([d.id for d in of_check("contents")], f"{what} policy contents")
            continue
        for name, document in documents.items():
            if name in ours.inline_policies:
                compare_policy(verdict, kind, mode, ours.inline_policies[name], document, name)
    return verdict


def compare_tags(
    verdict: Verdict, what: str, ours: dict[str, str], kops: dict[str, str] | None
) -> None:
    if kops is None:
        ids = [d.id for d in of_check("tags") if d.rule.get("when") == "kops-has-no-tags"]
        verdict.explain(ids, f"{what} tags: kops set none")
        return
    for key in sorted(set(kops) | set(ours)):
        if kops.get(key) == ours.get(key):
            continue
        ids = [
            d.id
            for d in of_check("tags")
            if key in d.rule.get("kops-iam-only", []) and key not in kops
        ]
        verdict.explain(ids, f"{what} tag {key}: {ours.get(key)!r}, kops {kops.get(key)!r}")


def judge_golden(case: dict[str, Any]) -> Verdict:
    verdict = Verdict(case["id"])
    plan, _ = render(case, verdict)
    if plan.iam_mode != case["kops"]["mode"]:
        verdict.unexplained.append(f"mode {plan.iam_mode} != {case['kops']['mode']}")
    expected = json.loads((CORPUS / case["expectedPolicy"]).read_text())
    for name, values in case.get("adaptations", {}).items():
        ids = [d.id for d in of_check("adaptation") if d.rule["adaptation"] == name]
        verdict.explain(ids, f"adaptation {name}")
        if isinstance(values, dict):
            expected = substitute(expected, values)
    role = plan.roles[case["role"]]
    compare_policy(
        verdict,
        case["role"],
        plan.iam_mode,
        role.inline_policies[role.role_name],
        expected,
        role.role_name,
    )
    return verdict


def judge_apiversion(case: dict[str, Any]) -> Verdict:
    verdict = Verdict(case["id"])
    plan, _ = render(case, verdict)
    if plan.cluster != case["cluster"]:
        verdict.unexplained.append(f"cluster {plan.cluster}")
    if sorted(plan.roles) != sorted({"master", "node", *case["expectedRoles"]}):
        verdict.unexplained.append(f"roles {sorted(plan.roles)}, kops {case['expectedRoles']}")
    compare_mode(verdict, case, plan.iam_mode)
    return verdict


JUDGES = {
    "integration": judge_integration,
    "golden-1.8.0": judge_golden,
    "apiversion": judge_apiversion,
}


@functools.cache
def verdicts() -> dict[str, Verdict]:
    return {c["id"]: JUDGES[c["kind"]](c) for c in corpus()["cases"]}


def _ids(kind: str) -> Iterator[Any]:
    for case in cases(kind):
        yield pytest.param(case["id"], id=case["id"])


# -- the tests ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case_id", [*_ids("integration"), *_ids("golden-1.8.0"), *_ids("apiversion")]
)
def test_case_renders_as_kops_did_or_differs_only_by_documented_deviations(case_id: str) -> None:
    verdict = verdicts()[case_id]
    assert not verdict.unexplained, "\n".join(verdict.unexplained)


def test_kops_180_strict_goldens_match_without_any_policy_deviation() -> None:
    # Given kops 1.8.0's strict grid (pkg/model/iam/tests), Then kops-iam's strict mode
    # renders it exactly, the documented input adaptation aside
    for case in cases("golden-1.8.0"):
        if case["kops"]["mode"] == "strict":
            used = verdicts()[case["id"]].deviations
            assert {deviations()[d].check for d in used} <= {"adaptation"}, (case["id"], used)


def test_the_corpus_holds_what_the_issue_asks_for() -> None:
    tests = Counter(c["test"] for c in cases("integration"))
    for name in ("minimal", "minimal-141", "ha", "complex", "privateweave", "additional_user-data"):
        assert tests[name] > 0, name
    assert tests["minimal-longclustername"] > 0
    assert len(cases("golden-1.8.0")) == 9
    inputs = {c["source"]["inputPath"].rsplit("/", 1)[-1] for c in cases("integration")}
    assert {"in-v1alpha0.yaml", "in-v1alpha1.yaml", "in-v1alpha2.yaml"} <= inputs
    for case in cases("integration"):
        assert case["source"]["tag"] and case["source"]["inputPath"] and case["source"]["blobShas"]


def test_every_documented_deviation_is_used_or_says_why_not() -> None:
    used = Counter(d for v in verdicts().values() for d in v.deviations)
    for deviation in deviations().values():
        if deviation.rule.get("exercised") is False:
            assert used[deviation.id] == 0, f"{deviation.id} is exercised after all"
        else:
            assert used[deviation.id] > 0, f"{deviation.id} is used by no corpus case"


def test_truncation_vectors_of_kops() -> None:
    vectors = json.loads((CORPUS / "truncate-vectors.json").read_text())
    checked = 0
    for source in vectors["sources"]:
        for vector in source["vectors"]:
            if vector["alwaysAddHash"]:
                continue  # kops' roles never force the hash
            assert truncate_name(vector["input"], vector["maxLength"]) == vector["expected"]
            checked += 1
    for vector in vectors["derivedFromCorpus"]:
        assert truncate_name(vector["input"], vector["maxLength"]) == vector["expected"]
        checked += 1
    assert checked >= 8


def fidelity_figures() -> dict[str, Any]:
    """Cases, matches and deviations by kind (``python -m`` this module prints them)."""
    result = verdicts()
    by_kind: Counter[str] = Counter()
    for verdict in result.values():
        for deviation in verdict.deviations:
            by_kind[deviation] += 1
    return {
        "cases": len(result),
        "byKind": dict(Counter(c["kind"] for c in corpus()["cases"])),
        "exact": sum(1 for v in result.values() if not v.deviations and not v.unexplained),
        "documentedDeviationsOnly": sum(
            1 for v in result.values() if v.deviations and not v.unexplained
        ),
        "unexplained": sum(1 for v in result.values() if v.unexplained),
        "policiesCompared": sum(
            1
            for c in corpus()["cases"]
            if c["kind"] == "golden-1.8.0"
            or (
                c["kind"] == "integration"
                and any(d is not None for r in c["roles"].values() for d in r["policies"].values())
                and c["kops"]["documentsKept"]
            )
        ),
        "strictGoldensIdentical": sum(
            1
            for c in cases("golden-1.8.0")
            if c["kops"]["mode"] == "strict"
            and {deviations()[d].check for d in result[c["id"]].deviations} <= {"adaptation"}
            and not result[c["id"]].unexplained
        ),
        "casesPerDeviation": dict(sorted(by_kind.items())),
    }


FIGURES_BEGIN = "<!-- generated:fidelity -->"
FIGURES_END = "<!-- /generated:fidelity -->"


def figures_markdown() -> str:
    figures = fidelity_figures()
    kinds = ", ".join(f"{n} {k}" for k, n in figures["byKind"].items())
    lines = [
        f"{figures['cases']} cases ({kinds}): **{figures['unexplained']} unexplained "
        "differences**; "
        f"{figures['documentedDeviationsOnly']} differ from kops only by documented "
        f"deviations, {figures['exact']} by none (apiVersion samples: kops produced no IAM "
        "for them; read, with kops' roles and mode). Policy documents compared in "
        f"{figures['policiesCompared']} cases; kops 1.8.0's strict goldens: "
        f"{figures['strictGoldensIdentical']} of 6 identical (input adaptations aside).",
        "",
        "| deviation | cases |",
        "| --- | --- |",
    ]
    for name, count in figures["casesPerDeviation"].items():
        lines.append(f"| [`{name}`](#{name}) | {count} |")
    return "\n".join(lines)


def test_the_figures_on_the_fidelity_page_are_current() -> None:
    text = FIDELITY.read_text()
    block = text[text.index(FIDELITY_BEGIN_END[0]) : text.index(FIDELITY_BEGIN_END[1])]
    assert block == f"{FIGURES_BEGIN}\n{figures_markdown()}\n", (
        "stale: python tests/unit/test_kops_fidelity.py --update"
    )


FIDELITY_BEGIN_END = (FIGURES_BEGIN, FIGURES_END)


if __name__ == "__main__":  # pragma: no cover
    import sys

    if "--update" in sys.argv:
        text = FIDELITY.read_text()
        head, rest = text.split(FIGURES_BEGIN, 1)
        _, tail = rest.split(FIGURES_END, 1)
        FIDELITY.write_text(f"{head}{FIGURES_BEGIN}\n{figures_markdown()}\n{FIGURES_END}{tail}")
    print(json.dumps(fidelity_figures(), indent=1))
