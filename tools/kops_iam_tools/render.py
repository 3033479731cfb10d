"""Terminal presentation of the local commands: tables, diffs, audit lines, colour.

Pure functions from plain data (:class:`kops_iam_tools.demo.Step`, audit event details, handler
outcomes) to lines of text. Colour only when :func:`wants_colour` says so: a TTY, no
``NO_COLOR`` (https://no-color.org), ``TERM`` not ``dumb``; ``--color always|never`` wins.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, Final, Literal

from kops_iam.aws.audit import DetailType

if TYPE_CHECKING:  # pragma: no cover - typing only
    from kops_iam_tools.demo import ClusterView, PolicyView, Statement, Step

ColourChoice = Literal["auto", "always", "never"]

MIN_WIDTH: Final = 72
MAX_WIDTH: Final = 140
INDENT: Final = "  "
LABEL_WIDTH: Final = 8

_CODES: Final = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
}

#: Colour of each audit detail type.
_OUTCOME_COLOUR: Final = {
    DetailType.SPEC_APPLIED: "green",
    DetailType.SPEC_UNCHANGED: "dim",
    DetailType.SPEC_PLANNED: "cyan",
    DetailType.SPEC_REJECTED: "yellow",
    DetailType.CLUSTER_DELETED: "magenta",
    DetailType.DRIFT_CORRECTED: "blue",
    DetailType.APPLY_FAILED: "red",
}


def wants_colour(
    stream: IO[str], choice: ColourChoice = "auto", environ: Mapping[str, str] | None = None
) -> bool:
    """Whether to colour ``stream``: ``always``/``never``, else TTY and no ``NO_COLOR``."""
    if choice != "auto":
        return choice == "always"
    import os

    env = os.environ if environ is None else environ
    if env.get("NO_COLOR", ""):
        return False
    if env.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def terminal_width(stream: IO[str] | None = None) -> int:
    """Columns to lay out for (the terminal's, within sane bounds)."""
    columns = shutil.get_terminal_size(fallback=(100, 24)).columns
    return max(MIN_WIDTH, min(MAX_WIDTH, columns))


class Style:
    """ANSI styling that becomes the identity when colour is off."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, *styles: str) -> str:
        if not self.enabled or not styles or not text:
            return text
        codes = ";".join(_CODES[s] for s in styles)
        return f"\033[{codes}m{text}\033[0m"

    def outcome(self, detail_type: str, text: str | None = None) -> str:
        """``text`` (default: the detail type) in the detail type's colour."""
        return self(
            text if text is not None else detail_type, _OUTCOME_COLOUR.get(detail_type, "bold")
        )


# --------------------------------------------------------------------------- layout


def wrap_tokens(tokens: Sequence[str], width: int, sep: str = "  ") -> list[str]:
    """Join ``tokens`` with ``sep`` into lines of at most ``width`` (a token never splits)."""
    lines: list[str] = []
    current = ""
    for token in tokens:
        candidate = f"{current}{sep}{token}" if current else token
        if current and len(candidate) > width:
            lines.append(current)
            current = token
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def wrap_text(text: str, width: int, indent: str = "") -> list[str]:
    """``text`` wrapped to ``width`` (long words such as ARNs stay whole)."""
    return textwrap.wrap(
        text,
        width=max(20, width),
        initial_indent=indent,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [indent]


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Sequence[str]]],
    width: int,
    style: Style,
    *,
    indent: str = INDENT,
    styles: Sequence[Sequence[str]] = (),
) -> list[str]:
    """A table whose cells hold one or more lines; the last column takes the rest of ``width``.

    ``rows`` are lists of cells, each a list of lines; ``styles`` gives each column's style
    names. Widths are measured on plain text, colour is applied after padding.
    """
    columns = len(headers)
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths[i], *(len(line) for line in cell or [""]))
    lines = [
        indent
        + "  ".join(
            style(h.ljust(widths[i]) if i < columns - 1 else h, "bold", "dim")
            for i, h in enumerate(headers)
        ).rstrip()
    ]
    for row in rows:
        height = max(len(cell) for cell in row) if row else 0
        for n in range(height):
            parts = []
            for i, cell in enumerate(row):
                text = cell[n] if n < len(cell) else ""
                padded = text.ljust(widths[i]) if i < columns - 1 else text
                column_style = styles[i] if i < len(styles) else ()
                parts.append(style(padded, *column_style) if text else padded)
            lines.append((indent + "  ".join(parts)).rstrip())
    return lines


def last_column_width(widths: Iterable[int], total: int, indent: str = INDENT) -> int:
    """Room left for the last column once the others (and their gaps) take theirs."""
    used = len(indent) + sum(w + 2 for w in widths)
    return max(24, total - used)


# --------------------------------------------------------------------------- IAM tables


def action_tokens(statements: Sequence[Statement]) -> list[tuple[str, list[str]]]:
    """Actions grouped for reading: ``(prefix, tokens)`` lines.

    Per statement effect (and ``NotAction`` / condition markers), services with one action
    or a wildcard are listed together; a service with several actions gets its own line
    ``service: A B C``.
    """
    groups: list[tuple[str, list[str]]] = []
    for statement in statements:
        label = statement.effect.upper() if statement.effect != "Allow" else ""
        if statement.negated:
            label = f"{label} NOT".strip()
        by_service: dict[str, list[str]] = {}
        for action in statement.actions:
            service, _, name = action.partition(":")
            by_service.setdefault(service, []).append(name or "*")
        singles: list[str] = []
        multiples: list[tuple[str, list[str]]] = []
        for service, names in by_service.items():
            if len(names) == 1 or "*" in names:
                singles.extend(f"{service}:{n}" for n in (["*"] if "*" in names else names))
            else:
                multiples.append((f"{service}:", sorted(names)))
        if statement.conditional:  # keep it apart, marked
            singles = [*singles, "(conditional)"] if singles else singles
            multiples = [(p, [*n, "(conditional)"]) for p, n in multiples]
        merged = False
        if (
            singles
            and not statement.conditional
            and groups
            and groups[-1][0] == label
            and _all_singles(groups[-1][1])
        ):
            groups[-1][1].extend(singles)
            merged = True
        if singles and not merged:
            groups.append((label, singles))
        for prefix, names in multiples:
            groups.append((f"{label} {prefix}".strip(), names))
    return groups


def _all_singles(tokens: Sequence[str]) -> bool:
    return all(":" in t and "(" not in t for t in tokens)


def action_lines(statements: Sequence[Statement], width: int, style: Style) -> list[str]:
    """The actions of a policy, wrapped to ``width``, grouped by :func:`action_tokens`."""
    lines: list[str] = []
    for prefix, tokens in action_tokens(statements):
        head = f"{prefix} " if prefix else ""
        body = wrap_tokens(
            tokens, max(16, width - len(head)), sep="  " if ":" in tokens[0] else " "
        )
        pad = " " * len(head)
        for n, line in enumerate(body):
            lines.append((head if n == 0 else pad) + line)
    return lines or ["(no statement)"]


def _policy_label(policy: PolicyView) -> str:
    if policy.kind in ("main", "additional"):
        return policy.kind
    if policy.kind == "managed":
        return "managed"
    if policy.kind == "boundary":
        return "boundary"
    return f"inline {policy.name}"


def cluster_table(view: ClusterView, width: int, style: Style, role_width: int = 0) -> list[str]:
    """Roles of one cluster: one row per policy, the actions it allows (or denies).

    ``role_width`` aligns several clusters' tables (the widest role name of them all).
    """
    if not view.roles:
        return [f"{INDENT}{style('no role in IAM', 'dim')}"]
    role_width = max(role_width, len("ROLE"), *(len(r.name) for r in view.roles))
    policy_width = len("additional")
    room = last_column_width([role_width, policy_width], width)
    rows: list[list[list[str]]] = []
    for role in view.roles:
        first = True
        for policy in role.policies:
            label = _policy_label(policy)
            if policy.kind in ("managed", "boundary"):
                cell = [policy.name]
            else:
                cell = action_lines(policy.statements, room, style)
            name = role.name.ljust(role_width)
            rows.append([[name] if first else [], [label.ljust(policy_width)], cell])
            first = False
    lines = table(
        ["ROLE", "POLICY", "ACTIONS"],
        rows,
        width,
        style,
        styles=[("bold",), ("cyan",), ()],
    )
    return [_colour_effects(line, style) for line in lines]


def _colour_effects(line: str, style: Style) -> str:
    for marker, colour in ((" DENY ", "red"), (" NOT ", "yellow")):
        line = line.replace(marker, " " + style(marker.strip(), colour, "bold") + " ")
    return line.replace("(conditional)", style("(conditional)", "yellow"))


# --------------------------------------------------------------------------- audit


def summary_text(detail: Mapping[str, Any]) -> str:
    """One-line summary of an audit event's detail."""
    detail_type = detail.get("detailType", "")
    if detail_type == DetailType.SPEC_REJECTED:
        errors = detail.get("errors") or []
        count = len(errors)
        return f"{count} error{'s' if count != 1 else ''}, nothing written"
    if detail_type == DetailType.APPLY_FAILED:
        error = detail.get("error") or {}
        return f"{error.get('code') or error.get('type')}: {error.get('message', '')}"[:200]
    summary = detail.get("summary") or {}
    parts = []
    for key, word in (
        ("rolesCreated", "created"),
        ("rolesUpdated", "updated"),
        ("rolesDeleted", "deleted"),
        ("rolesRetained", "retained"),
    ):
        count = summary.get(key) or 0
        if count:
            parts.append(f"{count} role{'s' if count != 1 else ''} {word}")
    writes = summary.get("writes")
    if not parts and not writes:
        return "IAM already matches the spec, no write"
    if writes is not None:
        parts.append(f"{writes} IAM write{'s' if writes != 1 else ''}")
    return " · ".join(parts)


def audit_lines(audit: Sequence[Mapping[str, Any]], width: int, style: Style) -> list[str]:
    """One line per audit event: detail type, cluster, summary (and object version if room)."""
    if not audit:
        return [style("(none)", "dim")]
    type_width = max(len(str(a.get("detailType"))) for a in audit)
    cluster_width = max(len(str(a.get("cluster"))) for a in audit)
    lines = []
    for event in audit:
        detail = event.get("detail") or {}
        detail_type = str(event.get("detailType"))
        head = (
            f"{detail_type.ljust(type_width)}  {str(event.get('cluster')).ljust(cluster_width)}  "
        )
        summary = summary_text(detail)
        version = detail.get("versionId")
        extra = f"  version {str(version)[:8]}" if version else ""
        if len(head) + len(summary) + len(extra) > width:
            extra = ""
        if len(head) + len(summary) > width:
            summary = summary[: max(10, width - len(head) - 1)] + "…"
        lines.append(
            style.outcome(detail_type, detail_type.ljust(type_width))
            + head[len(detail_type.ljust(type_width)) :]
            + summary
            + style(extra, "dim")
        )
    return lines


def change_lines(changes: Sequence[Mapping[str, Any]], width: int, style: Style) -> list[str]:
    """A readable diff of an audit event's ``changes``, role by role."""
    lines: list[str] = []
    plus, minus = style("+", "green", "bold"), style("-", "red", "bold")
    for change in changes:
        action = str(change.get("action"))
        name = str(change.get("roleName"))
        if action == "delete":
            policies = list((change.get("inlinePolicies") or {}).keys())
            profile = change.get("instanceProfile") or {}
            extra = " and instance profile" if profile.get("deleted") else ""
            lines.append(
                f"{minus} role {style(name, 'bold')}{extra}"
                + (
                    f", {len(policies)} inline polic{'y' if len(policies) == 1 else 'ies'}"
                    if policies
                    else ""
                )
            )
            continue
        if action == "create":
            lines.append(f"{plus} role {style(name, 'bold')}")
            continue
        lines.append(f"~ role {style(name, 'bold')} ({action})")
        for policy, diff in (change.get("inlinePolicies") or {}).items():
            lines.append(f"    policy {style(policy, 'cyan')} {diff.get('change', '')}")
            added = [f"{plus} {a}" for a in diff.get("actions", {}).get("added", [])]
            removed = [f"{minus} {a}" for a in diff.get("actions", {}).get("removed", [])]
            for group in (added, removed):
                lines.extend("      " + line for line in _wrap_styled(group, width - 8))
            for item in diff.get("resources", {}).get("added", []):
                lines.append(f"      {plus} resource {item}")
            for item in diff.get("resources", {}).get("removed", []):
                lines.append(f"      {minus} resource {item}")
        tags = change.get("tags") or {}
        for key, value in (tags.get("added") or {}).items():
            lines.append(f"    {plus} tag {key}={value}")
        for key, value in (tags.get("removed") or {}).items():
            lines.append(f"    {minus} tag {key}={value}")
        for key, value in (tags.get("changed") or {}).items():
            lines.append(f"    ~ tag {key}: {value.get('before')} -> {value.get('after')}")
        if "trustPolicy" in change:
            lines.append("    ~ trust policy")
        if "permissionsBoundary" in change:
            boundary = change["permissionsBoundary"]
            lines.append(f"    ~ boundary {boundary.get('before')} -> {boundary.get('after')}")
        managed = change.get("managedPolicies") or {}
        for arn in managed.get("attached", []):
            lines.append(f"    {plus} managed policy {arn}")
        for arn in managed.get("detached", []):
            lines.append(f"    {minus} managed policy {arn}")
    return lines


def _wrap_styled(items: Sequence[str], width: int) -> list[str]:
    """Wrap styled tokens by their visible length."""
    lines: list[str] = []
    current: list[str] = []
    used = 0
    for item in items:
        visible = _visible_len(item)
        if current and used + 2 + visible > width:
            lines.append("  ".join(current))
            current, used = [], 0
        used += visible + (2 if current else 0)
        current.append(item)
    if current:
        lines.append("  ".join(current))
    return lines


def _visible_len(text: str) -> int:
    import re

    return len(re.sub(r"\033\[[0-9;]*m", "", text))


# --------------------------------------------------------------------------- steps


def labelled(label: str, lines: Sequence[str], style: Style, width: int | None = None) -> list[str]:
    """``label`` in a left margin beside the first of ``lines``.

    With ``width``, plain lines longer than the room left are wrapped (hanging indent).
    """
    if width is not None:
        room = width - len(INDENT) - LABEL_WIDTH
        wrapped: list[str] = []
        for line in lines:
            if "\033" in line or len(line) <= room:
                wrapped.append(line)
            else:
                parts = wrap_text(line, room - 2)
                wrapped.append(parts[0])
                wrapped.extend("  " + p for p in parts[1:])
        lines = wrapped
    out = []
    for n, line in enumerate(lines):
        margin = style(label.ljust(LABEL_WIDTH), "bold") if n == 0 else " " * LABEL_WIDTH
        out.append(f"{INDENT}{margin}{line}")
    return out


def rule(title: str, width: int, style: Style, right: str = "") -> str:
    """A section heading: ``── title ──────── right``."""
    left = f"── {title} "
    fill = max(3, width - len(left) - len(right) - (1 if right else 0))
    text = left + "─" * fill + (f" {right}" if right else "")
    return style(text, "bold")


def step_lines(step: Step, number: int, total: int, width: int, style: Style) -> list[str]:
    """The report of one demo step."""
    inner = width - len(INDENT) - LABEL_WIDTH
    lines = ["", rule(f"{number}/{total}  {step.title}", width, style, f"{step.seconds:.1f} s")]
    lines.extend(style(line, "dim") for line in wrap_text(step.story, width - 2, INDENT))
    lines.append("")
    lines.extend(labelled("did", step.actions, style, width))
    ran = _ran_lines(step)
    lines.extend(labelled("ran", ran, style, width))
    lines.extend(labelled("audit", audit_lines(step.audit, inner, style), style))
    if step.errors:
        errors: list[str] = []
        for error in step.errors:
            text = f"{error.get('path') or '(document)'}: {error.get('message')}"
            wrapped = wrap_text(text, inner - 2)
            errors.append(style("✗ ", "yellow") + wrapped[0])
            errors.extend("  " + w for w in wrapped[1:])
        lines.extend(labelled("errors", errors, style))
    diff = _diff_lines(step, inner, style)
    if diff:
        lines.extend(labelled("diff", diff, style))
    lines.extend(_iam_lines(step, width, style))
    if not step.ok:
        lines.append(f"{INDENT}{style('✗ expected ' + step.expected, 'red', 'bold')}")
    return lines


def _ran_lines(step: Step) -> list[str]:
    lines = []
    triggers: dict[str, list[float]] = {}
    for invocation in step.invocations:
        triggers.setdefault(str(invocation["trigger"]), []).append(float(invocation["seconds"]))
        if invocation.get("error"):
            lines.append(f"failed (attempt {invocation['attempt']}): {invocation['error']}")
    for trigger, times in triggers.items():
        count = f" x {len(times)}" if len(times) > 1 else ""
        lines.insert(0, f"lambda_handler{count} ← {trigger}  ({sum(times):.2f} s)")
    return lines or ["(nothing)"]


def _diff_lines(step: Step, width: int, style: Style) -> list[str]:
    if step.name not in ("edit", "delete", "drift"):
        return []
    lines: list[str] = []
    for event in step.audit:
        changes = (event.get("detail") or {}).get("changes") or []
        if changes and event.get("detailType") != DetailType.SPEC_REJECTED:
            lines.extend(change_lines(changes, width, style))
    return lines


def _iam_lines(step: Step, width: int, style: Style) -> list[str]:
    lines: list[str] = []
    if step.name == "reject":
        facts = step.facts
        verdict = (
            f"untouched: its {facts.get('roles')} roles and {facts.get('policies')} policies "
            "are the same before and after"
            if facts.get("iamUnchanged")
            else "CHANGED (it should not have)"
        )
        cluster = step.clusters[0].cluster if step.clusters else "?"
        lines.extend(
            labelled(
                "IAM",
                [
                    style(verdict, "green" if facts.get("iamUnchanged") else "red"),
                    f"no role for {cluster}",
                ],
                style,
            )
        )
        return lines
    if step.name == "delete":
        gone = step.clusters[0]
        left = "no role left" if not gone.roles else f"{len(gone.roles)} role(s) left"
        lines.extend(labelled("IAM", [f"{left} for {gone.cluster}"], style))
        return lines
    role_width = max((len(r.name) for v in step.clusters for r in v.roles), default=0)
    for view in step.clusters:
        lines.append("")
        note = wrap_text(cluster_note(view), width - len(INDENT) * 2 - len(view.cluster))
        lines.append(f"{INDENT}{style(view.cluster, 'bold', 'cyan')}  {style(note[0], 'dim')}")
        pad = " " * (len(INDENT) * 2 + len(view.cluster))
        lines.extend(pad + style(n, "dim") for n in note[1:])
        lines.extend(cluster_table(view, width, style, role_width))
    return lines


#: Tags kops puts on every role (the rest come from the spec's cloudLabels).
_KOPS_TAGS: Final = ("Name", "KubernetesCluster")


def cluster_note(view: ClusterView) -> str:
    """Trust, instance profiles and the spec's own tags (cloudLabels), in one line."""
    if not view.roles:
        return ""
    from kops_iam.domain.naming import OWN_TAG_KEYS

    first = view.roles[0]
    parts = [f"trusts {', '.join(first.trusted) or '?'}"]
    profiles = sum(1 for r in view.roles if r.instance_profile)
    parts.append(f"{profiles}/{len(view.roles)} instance profiles")
    labels = [
        f"{k}={v}"
        for k, v in sorted(first.tags.items())
        if k not in _KOPS_TAGS and k not in OWN_TAG_KEYS and not k.startswith("kubernetes.io/")
    ]
    if labels:
        parts.append("cloudLabels " + " ".join(labels))
    return " · ".join(parts)


def intro_lines(
    endpoint: str,
    bucket: str,
    bus: str,
    tail_queue: str,
    delivery: str,
    width: int,
    style: Style,
) -> list[str]:
    """What the demo is about to run on."""
    via = (
        "S3 notifications → SQS"
        if delivery == "notification"
        else "S3 events → EventBridge rule → SQS"
    )
    lines = [rule("kops-iam demo", width, style)]
    rows = [
        ("embedded AWS", f"moto on {endpoint}: no account, nothing leaves this machine"),
        ("specs bucket", f"s3://{bucket} (versioned; {via} → local runner → lambda_handler)"),
        ("audit bus", f"{bus} (rule → SQS {tail_queue}, read after every step)"),
    ]
    for label, text in rows:
        wrapped = wrap_text(text, width - len(INDENT) - 14)
        lines.append(f"{INDENT}{style(label.ljust(12), 'bold')}  {wrapped[0]}")
        lines.extend(f"{INDENT}{' ' * 14}{line}" for line in wrapped[1:])
    return lines


def outro_lines(
    steps: Sequence[Step], seconds: float, ok: bool, width: int, style: Style
) -> list[str]:
    """Totals and what to try next."""
    counts: dict[str, int] = {}
    for step in steps:
        for event in step.audit:
            name = str(event.get("detailType"))
            counts[name] = counts.get(name, 0) + 1
    nbsp = "\u00a0"
    parts = ", ".join(f"{n}{nbsp}{k.replace(' ', nbsp)}" for k, n in counts.items())
    verdict = "Every step did what it should." if ok else "A step did not do what it should."
    text = [
        f"{verdict} {sum(counts.values())} audit events: {parts}.",
        "Everything the demo started is stopped. Next: kops-iam\u00a0local to try your own "
        "specs (README, section Demo); kops-iam\u00a0demo\u00a0--json for scripts.",
    ]
    lines = ["", rule(f"done in {seconds:.1f} s", width, style)]
    for paragraph in text:
        for line in wrap_text(paragraph, width - len(INDENT), INDENT):
            for name in counts:
                line = line.replace(name.replace(" ", nbsp), style.outcome(name))
            line = line.replace(verdict, style(verdict, "green" if ok else "red", "bold"))
            for command in ("kops-iam local", "kops-iam demo --json"):
                line = line.replace(command.replace(" ", nbsp), style(command, "bold"))
            lines.append(line.replace(nbsp, " "))
    return lines
