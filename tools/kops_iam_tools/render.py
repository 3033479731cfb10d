"""Terminal presentation of ``kops-iam demo`` and ``kops-iam local``, through Rich.

Builders turn plain data (:class:`kops_iam_tools.demo.Step`, audit event details, handler
invocations) into Rich renderables; :func:`console` makes the console that prints them and
:func:`emit` prints. Rich lays out (tables, wrapping to the width, styles); this module only
says what goes where, and in which style of :data:`THEME`.

Colour only when :func:`wants_colour` says so: a TTY, no ``NO_COLOR`` (https://no-color.org),
``TERM`` not ``dumb``; ``--color always|never`` wins. Without colour not a single escape
sequence is written. Whatever comes from a spec (cluster names, error messages) goes in as
:class:`~rich.text.Text`, never as markup, so brackets in it print as they are.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, Final, Literal

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table
from rich.text import Text
from rich.theme import Theme

from kops_iam.aws.audit import DetailType

if TYPE_CHECKING:  # pragma: no cover - typing only
    from kops_iam_tools.demo import ClusterView, PolicyView, Statement, Step
    from kops_iam_tools.emulator import Emulator, Invocation

ColourChoice = Literal["auto", "always", "never"]

MIN_WIDTH: Final = 72
MAX_WIDTH: Final = 140
#: Left margin of everything under a heading.
INDENT: Final = 2
#: Width of a step's labels (``did``, ``ran``, ``audit``, ``errors``, ...).
LABEL_WIDTH: Final = 6

#: The mark of a statement with a condition, after its actions.
CONDITIONAL: Final = "(conditional)"

#: Every style the output uses, by what it marks (Rich resolves the names).
THEME: Final = Theme(
    {
        "heading": "bold",
        "story": "dim",
        "label": "bold",
        "header": "bold dim",
        "note": "dim",
        "role": "bold",
        "policy": "cyan",
        "cluster": "bold cyan",
        "deny": "bold red",
        "negated": "bold yellow",
        "conditional": "yellow",
        "added": "green",
        "added.mark": "bold green",
        "removed": "red",
        "removed.mark": "bold red",
        "error.mark": "yellow",
        "good": "bold green",
        "bad": "bold red",
        "command": "bold",
        # each audit detail type in its own colour
        DetailType.SPEC_APPLIED: "green",
        DetailType.SPEC_UNCHANGED: "dim",
        DetailType.SPEC_PLANNED: "cyan",
        DetailType.SPEC_REJECTED: "yellow",
        DetailType.CLUSTER_DELETED: "magenta",
        DetailType.DRIFT_CORRECTED: "blue",
        DetailType.APPLY_FAILED: "red",
    }
)


# --------------------------------------------------------------------------- console


def wants_colour(
    stream: IO[str], choice: ColourChoice = "auto", environ: Mapping[str, str] | None = None
) -> bool:
    """Whether to colour ``stream``: ``always``/``never``, else TTY and no ``NO_COLOR``."""
    if choice != "auto":
        return choice == "always"
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR", "") or env.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def terminal_width() -> int:
    """Columns to lay out for: the terminal's (or ``COLUMNS``), within sane bounds."""
    columns = shutil.get_terminal_size(fallback=(100, 24)).columns
    return max(MIN_WIDTH, min(MAX_WIDTH, columns))


def console(out: IO[str], colour: bool, width: int | None = None) -> Console:
    """A console writing to ``out``: ``width`` columns, the 8 basic colours or none at all."""
    return Console(
        file=out,
        width=width or terminal_width(),
        theme=THEME,
        color_system="standard" if colour else None,
        force_terminal=colour,
        no_color=not colour,
        highlight=False,
        markup=False,
        emoji=False,
        legacy_windows=False,
        force_jupyter=False,
        force_interactive=False,
    )


def emit(target: Console, *renderables: RenderableType, soft_wrap: bool = False) -> None:
    """Print ``renderables`` and flush; lines carry no trailing blanks (pipes, logs, diffs).

    ``soft_wrap`` leaves long lines whole for the terminal to wrap (commands to copy).
    """
    with target.capture() as captured:
        target.print(Group(*renderables), soft_wrap=soft_wrap)
    text = "\n".join(line.rstrip() for line in captured.get().split("\n"))
    target.file.write(text)
    target.file.flush()


def to_text(renderable: RenderableType, width: int, colour: bool = False) -> str:
    """What a reader sees of ``renderable`` on a ``width``-column terminal (tests, docs)."""
    out = io.StringIO()
    emit(console(out, colour, width), renderable)
    return out.getvalue()


class Hanging:
    """A line of text whose wrapped continuation lines are indented, so it reads as one item."""

    def __init__(self, text: Text | str, indent: int = 2) -> None:
        self.text = Text(text) if isinstance(text, str) else text
        self.indent = indent

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = self.text.wrap(console, options.max_width)
        if len(lines) > 1:
            lines = self.text.wrap(console, max(1, options.max_width - self.indent))
        for number, line in enumerate(lines):
            yield Text(" " * self.indent) + line if number else line

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        measured = Measurement.get(console, options, self.text)
        return Measurement(measured.minimum + self.indent, measured.maximum)


def _indented(*renderables: RenderableType, by: int = INDENT) -> Padding:
    return Padding(Group(*renderables), (0, 0, 0, by), expand=False)


def _grid(*columns: Mapping[str, Any], gap: int = 2) -> Table:
    """A borderless grid; ``columns`` are :meth:`Table.add_column` keyword arguments."""
    grid = Table.grid(padding=(0, gap, 0, 0))
    for column in columns:
        grid.add_column(**column)
    return grid


def heading(title: str, right: str = "") -> Table:
    """A section heading: ``── title ──────── right``."""
    grid = Table.grid(padding=(0, 1, 0, 0), expand=True)
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1)
    cells: list[RenderableType] = [
        Text("──", style="heading"),
        Rule(Text(title, style="heading"), align="left", style="heading", characters="─"),
    ]
    if right:
        grid.add_column(no_wrap=True)
        cells.append(Text(right, style="heading"))
    grid.add_row(*cells)
    return grid


def outcome(detail_type: str, text: str | None = None) -> Text:
    """``text`` (default: the detail type) in the detail type's style."""
    style = detail_type if detail_type in THEME.styles else "bold"
    return Text(detail_type if text is None else text, style=style)


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else (plural or word + 's')}"


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
            singles = [*singles, CONDITIONAL] if singles else singles
            multiples = [(p, [*n, CONDITIONAL]) for p, n in multiples]
        if (
            singles
            and not statement.conditional
            and groups
            and groups[-1][0] == label
            and _all_singles(groups[-1][1])
        ):
            groups[-1][1].extend(singles)
        elif singles:
            groups.append((label, singles))
        for prefix, names in multiples:
            groups.append((f"{label} {prefix}".strip(), names))
    return groups


def _all_singles(tokens: Sequence[str]) -> bool:
    return all(":" in t and "(" not in t for t in tokens)


def _prefix(prefix: str) -> Text:
    """``DENY``, ``NOT`` and a service prefix (``ecr:``), the effects marked."""
    styles = {"DENY": "deny", "NOT": "negated"}
    return Text(" ").join(Text(word, style=styles.get(word, "")) for word in prefix.split())


def actions(statements: Sequence[Statement]) -> RenderableType:
    """The actions of a policy, one group per line (:func:`action_tokens`), wrapped by Rich.

    A group with a prefix hangs its actions beside it; a token never splits.
    """
    lines: list[RenderableType] = []
    for prefix, tokens in action_tokens(statements):
        separator = "  " if ":" in tokens[0] else " "
        body = Text(separator).join(
            Text(item, style="conditional" if item == CONDITIONAL else "") for item in tokens
        )
        if not prefix:
            lines.append(body)
            continue
        grid = _grid({"no_wrap": True}, {"overflow": "fold"}, gap=1)
        grid.add_row(_prefix(prefix), body)
        lines.append(grid)
    return Group(*lines) if lines else Text("(no statement)", style="note")


def _policy_label(policy: PolicyView) -> str:
    if policy.kind in ("main", "additional", "managed", "boundary"):
        return policy.kind
    return f"inline {policy.name}"


def cluster_table(view: ClusterView, role_width: int = 0) -> RenderableType:
    """Roles of one cluster: one row per policy, the actions it allows (or denies).

    ``role_width`` aligns several clusters' tables (the widest role name of them all).
    """
    if not view.roles:
        return Text("no role in IAM", style="note")
    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="header")
    table.add_column("ROLE", style="role", no_wrap=True, min_width=role_width)
    table.add_column("POLICY", style="policy", no_wrap=True, min_width=len("additional"))
    table.add_column("ACTIONS", overflow="fold")
    for role in view.roles:
        for number, policy in enumerate(role.policies):
            cell = (
                Text(policy.name)
                if policy.kind in ("managed", "boundary")
                else actions(policy.statements)
            )
            table.add_row(role.name if number == 0 else "", _policy_label(policy), cell)
    return table


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


def cluster_section(view: ClusterView, role_width: int = 0) -> RenderableType:
    """A cluster's name, its note (trust, profiles, cloudLabels), and its roles table."""
    title = _grid({"no_wrap": True, "style": "cluster"}, {"style": "note"})
    title.add_row(view.cluster, cluster_note(view))
    return _indented(title, cluster_table(view, role_width))


# --------------------------------------------------------------------------- audit


def summary_text(detail: Mapping[str, Any]) -> str:
    """One-line summary of an audit event's detail."""
    detail_type = detail.get("detailType", "")
    if detail_type == DetailType.SPEC_REJECTED:
        return f"{_plural(len(detail.get('errors') or []), 'error')}, nothing written"
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
            parts.append(f"{_plural(count, 'role')} {word}")
    writes = summary.get("writes")
    if not parts and not writes:
        return "IAM already matches the spec, no write"
    if writes is not None:
        parts.append(_plural(writes, "IAM write"))
    return " · ".join(parts)


def _version(event: Mapping[str, Any]) -> str:
    version = (event.get("detail") or {}).get("versionId")
    return f"version {str(version)[:8]}" if version else ""


def audit_table(audit: Sequence[Mapping[str, Any]], width: int | None = None) -> RenderableType:
    """One row per audit event: detail type, cluster, summary, object version.

    With ``width``, the object versions are left out unless every row fits with them.
    """
    if not audit:
        return Text("(none)", style="note")
    rows = [
        (
            str(event.get("detailType")),
            str(event.get("cluster")),
            summary_text(event.get("detail") or {}),
            _version(event),
        )
        for event in audit
    ]
    widths = [max(cell_len(row[n]) for row in rows) for n in range(4)]
    versions = width is None or sum(widths) + 6 <= width
    grid = _grid({"no_wrap": True}, {"no_wrap": True}, {})
    if versions:
        grid.add_column(no_wrap=True, style="note")
    for detail_type, cluster, summary, version in rows:
        grid.add_row(outcome(detail_type), cluster, summary, *([version] if versions else []))
    return grid


def _marked(mark: str, items: Iterable[str], separator: str = "  ") -> Table:
    """``+ a  b  c`` (added) or ``- a  b`` (removed): the mark once, the items wrapped."""
    style = "added" if mark == "+" else "removed"
    grid = _grid({"no_wrap": True}, {"overflow": "fold"}, gap=1)
    grid.add_row(
        Text(mark, style=f"{style}.mark"),
        Text(separator).join(Text(item, style=style) for item in items),
    )
    return grid


def changes(changes: Sequence[Mapping[str, Any]]) -> RenderableType:
    """A readable diff of an audit event's ``changes``, role by role."""
    lines: list[RenderableType] = []
    for change in changes:
        action = str(change.get("action"))
        name = Text(str(change.get("roleName")), style="role")
        if action == "delete":
            policies = list((change.get("inlinePolicies") or {}).keys())
            profile = change.get("instanceProfile") or {}
            line = Text.assemble(("-", "removed.mark"), " role ", name)
            if profile.get("deleted"):
                line.append(" and instance profile")
            if policies:
                line.append(f", {_plural(len(policies), 'inline policy', 'inline policies')}")
            lines.append(line)
            continue
        if action == "create":
            lines.append(Text.assemble(("+", "added.mark"), " role ", name))
            continue
        lines.append(Text.assemble("~ role ", name, f" ({action})"))
        lines.extend(_role_changes(change))
    return Group(*lines)


def _role_changes(change: Mapping[str, Any]) -> list[RenderableType]:
    details: list[RenderableType] = []
    for policy, diff in (change.get("inlinePolicies") or {}).items():
        details.append(
            Text.assemble("policy ", (str(policy), "policy"), f" {diff.get('change', '')}")
        )
        items: list[RenderableType] = []
        for mark, key in (("+", "added"), ("-", "removed")):
            if diff.get("actions", {}).get(key):
                items.append(_marked(mark, diff["actions"][key]))
        for mark, key in (("+", "added"), ("-", "removed")):
            for resource in diff.get("resources", {}).get(key, []):
                items.append(_marked(mark, [f"resource {resource}"]))
        if items:
            details.append(_indented(*items))
    tags = change.get("tags") or {}
    for key, value in (tags.get("added") or {}).items():
        details.append(_marked("+", [f"tag {key}={value}"]))
    for key, value in (tags.get("removed") or {}).items():
        details.append(_marked("-", [f"tag {key}={value}"]))
    for key, value in (tags.get("changed") or {}).items():
        details.append(Text(f"~ tag {key}: {value.get('before')} -> {value.get('after')}"))
    if "trustPolicy" in change:
        details.append(Text("~ trust policy"))
    if "permissionsBoundary" in change:
        boundary = change["permissionsBoundary"]
        details.append(Text(f"~ boundary {boundary.get('before')} -> {boundary.get('after')}"))
    managed = change.get("managedPolicies") or {}
    for arn in managed.get("attached", []):
        details.append(_marked("+", [f"managed policy {arn}"]))
    for arn in managed.get("detached", []):
        details.append(_marked("-", [f"managed policy {arn}"]))
    return [_indented(*details, by=4)] if details else []


def errors(issues: Sequence[Mapping[str, Any]]) -> Table:
    """``✗ path: message`` for each error, the message wrapped beside the mark."""
    grid = _grid({"no_wrap": True, "style": "error.mark"}, {"overflow": "fold"}, gap=1)
    for issue in issues:
        grid.add_row("✗", f"{issue.get('path') or '(document)'}: {issue.get('message')}")
    return grid


# --------------------------------------------------------------------------- demo


def intro(endpoint: str, bucket: str, bus: str, tail_queue: str, delivery: str) -> RenderableType:
    """What the demo is about to run on."""
    via = (
        "S3 notifications → SQS"
        if delivery == "notification"
        else "S3 events → EventBridge rule → SQS"
    )
    rows = _grid({"no_wrap": True, "style": "label"}, {})
    rows.add_row("embedded AWS", f"moto on {endpoint}: no account, nothing leaves this machine")
    rows.add_row(
        "specs bucket", f"s3://{bucket} (versioned; {via} → local runner → lambda_handler)"
    )
    rows.add_row("audit bus", f"{bus} (rule → SQS {tail_queue}, read after every step)")
    return Group(heading("kops-iam demo"), _indented(rows))


def step_report(step: Step, number: int, total: int, width: int) -> RenderableType:
    """The report of one demo step, laid out for ``width`` columns."""
    body = _grid({"no_wrap": True, "style": "label", "min_width": LABEL_WIDTH}, {})
    body.add_row("did", Group(*(Hanging(action) for action in step.actions)))
    body.add_row("ran", Group(*(Hanging(line) for line in _ran_lines(step))))
    body.add_row("audit", audit_table(step.audit, width - INDENT - LABEL_WIDTH - 2))
    if step.errors:
        body.add_row("errors", errors(step.errors))
    diff = _diff(step)
    if diff is not None:
        body.add_row("diff", diff)
    facts = _iam_facts(step)
    if facts is not None:
        body.add_row("IAM", facts)
    parts: list[RenderableType] = [
        Text(),
        heading(f"{number}/{total}  {step.title}", f"{step.seconds:.1f} s"),
        _indented(Text(step.story, style="story")),
        Text(),
        _indented(body),
    ]
    if step.name not in ("reject", "delete"):
        role_width = max((len(r.name) for v in step.clusters for r in v.roles), default=0)
        for view in step.clusters:
            parts.extend([Text(), cluster_section(view, role_width)])
    if not step.ok:
        parts.append(_indented(Text(f"✗ expected {step.expected}", style="bad")))
    return Group(*parts)


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


def _diff(step: Step) -> RenderableType | None:
    if step.name not in ("edit", "delete", "drift"):
        return None
    diffs = [
        changes(event["detail"]["changes"])
        for event in step.audit
        if (event.get("detail") or {}).get("changes")
        and event.get("detailType") != DetailType.SPEC_REJECTED
    ]
    return Group(*diffs) if diffs else None


def _iam_facts(step: Step) -> RenderableType | None:
    """What IAM holds after a rejection (untouched) or a deletion (no role left)."""
    if step.name == "reject":
        facts = step.facts
        cluster = step.clusters[0].cluster if step.clusters else "?"
        verdict = (
            Text(
                f"untouched: its {facts.get('roles')} roles and {facts.get('policies')} "
                "policies are the same before and after",
                style="added",
            )
            if facts.get("iamUnchanged")
            else Text("CHANGED (it should not have)", style="bad")
        )
        return Group(verdict, Text(f"no role for {cluster}"))
    if step.name == "delete":
        gone = step.clusters[0]
        left = "no role left" if not gone.roles else f"{len(gone.roles)} role(s) left"
        return Text(f"{left} for {gone.cluster}")
    return None


def outro(steps: Sequence[Step], seconds: float, ok: bool) -> RenderableType:
    """Totals and what to try next."""
    counts: dict[str, int] = {}
    for step in steps:
        for event in step.audit:
            name = str(event.get("detailType"))
            counts[name] = counts.get(name, 0) + 1
    verdict = Text.assemble(
        (
            "Every step did what it should." if ok else "A step did not do what it should.",
            "good" if ok else "bad",
        ),
        f" {sum(counts.values())} audit events: ",
        Text(", ").join(outcome(name, f"{n} {name}") for name, n in counts.items()),
        ".",
    )
    after = Text.assemble(
        "Everything the demo started is stopped. Next: ",
        ("kops-iam local", "command"),
        " to try your own specs (docs/demo.md); ",
        ("kops-iam demo --json", "command"),
        " for scripts.",
    )
    return Group(Text(), heading(f"done in {seconds:.1f} s"), _indented(verdict, after))


# --------------------------------------------------------------------------- local


def local_banner(emulator: Emulator, spec: str) -> tuple[RenderableType, RenderableType]:
    """What ``kops-iam local`` runs and commands to try (``spec``: a sample spec's path).

    Two parts: the settings (wrapped to the width) and the commands, which are printed whole
    (``soft_wrap``) so they can be copied.
    """
    from kops_iam.application.settings import Defaults

    endpoint = emulator.endpoint_url
    function = emulator.function
    via = (
        "S3 notifications → runner → lambda_handler"
        if emulator.delivery == "notification"
        else "S3 events → EventBridge rule → runner → lambda_handler"
    )
    settings = [
        f"{function.mode} mode",
        f"boundary {function.permissions_boundary or 'none'}",
        f"approved actions {', '.join(function.allowed_actions) or 'none'}",
        "managed policies "
        + (", ".join(a.rsplit("/", 1)[-1] for a in function.allowed_managed_policies) or "none"),
    ]
    rows = _grid({"no_wrap": True, "style": "label"}, {})
    rows.add_row("embedded AWS", f"moto on {endpoint}: 127.0.0.1 only, any credentials work")
    rows.add_row("specs bucket", f"s3://{emulator.bucket}  ({via})")
    rows.add_row("audit bus", f"{emulator.bus_name}  (rule → SQS {Defaults.AUDIT_TAIL_QUEUE})")
    rows.add_row("failure queue", f"{Defaults.FAILURE_QUEUE}  (events whose every attempt failed)")
    rows.add_row("function", "; ".join(settings))
    cluster = "example.k8s.dev"
    aws = f"aws --endpoint-url {endpoint}"
    boto = (
        f'boto3.client("s3", endpoint_url="{endpoint}", region_name="{emulator.region}", '
        'aws_access_key_id="testing", aws_secret_access_key="testing")'
    )
    commands = [
        "export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
        f"AWS_DEFAULT_REGION={emulator.region}",
        f"{aws} s3 cp {spec} s3://{emulator.bucket}/{cluster}/config",
        f"{aws} iam list-roles --query 'Roles[].RoleName'",
        f"{aws} sqs receive-message --queue-url {emulator.audit_queue_url} "
        "--max-number-of-messages 10",
        f"{aws} s3 rm s3://{emulator.bucket}/{cluster}/config",
        f"kops-iam plan --endpoint-url {endpoint} --region {emulator.region} {spec}",
    ]
    python = [
        f"s3 = {boto}",
        f's3.put_object(Bucket="{emulator.bucket}", Key="{cluster}/config", '
        f'Body=open("{spec}", "rb"))',
    ]
    to_try = Group(
        Text(),
        Text("  Try, from another terminal:"),
        *(Text(f"    {command}", style="command") for command in commands),
        Text("  or in Python:"),
        *(Text(f"    {line}", style="command") for line in python),
        Text(),
        Text.assemble(("ready", "good"), f"  {endpoint}  (Ctrl-C to stop)"),
    )
    return Group(heading("kops-iam local"), _indented(rows)), to_try


def invocation_report(
    invocation: Invocation, audit: Sequence[Mapping[str, Any]], stamp: str, width: int
) -> RenderableType:
    """What ``kops-iam local`` saw of one handler call: its audit events, or why none.

    Each line ends with the trigger and the time taken, or has them on the next line when
    the ``width`` leaves no room (never split).
    """
    from kops_iam.application.settings import Defaults
    from kops_iam_tools.demo import invocation_entry
    from kops_iam_tools.emulator import DELIVERY_ATTEMPTS

    via = Text(
        f"← {invocation_entry(invocation)['trigger']}, {invocation.seconds:.2f} s", style="note"
    )
    room = width - cell_len(stamp) - 2
    lines: list[RenderableType] = []

    def head(*parts: Text | str) -> None:
        line = Text("  ").join(Text(p) if isinstance(p, str) else p for p in parts)
        if line.cell_len + 2 + via.cell_len <= room:
            lines.append(Text.assemble(line, "  ", via))
        else:
            lines.extend([line, via])

    for event in audit:
        detail = event["detail"]
        detail_type = str(event["detailType"])
        head(
            outcome(detail_type),
            Text(str(event["cluster"]), style="role"),
            summary_text(detail),
        )
        if detail.get("errors"):
            lines.append(errors(detail["errors"]))
        if detail_type != DetailType.SPEC_REJECTED and detail.get("changes"):
            lines.append(changes(detail["changes"]))
    if invocation.error:
        head(Text("invocation failed", style="bad"), invocation.error)
        lines.append(
            Text(
                f"Lambda retries it ({invocation.attempt}/{DELIVERY_ATTEMPTS})"
                if invocation.attempt < DELIVERY_ATTEMPTS
                else f"last attempt: the event goes to {Defaults.FAILURE_QUEUE}"
            )
        )
    if not lines and invocation.scheduled:
        queued = int(((invocation.result or {}).get("drift") or {}).get("queued", 0))
        verdict = f"{queued} drift check(s) queued" if queued else "no spec yet"
        head(Text("drift run", style="note"), verdict)
    if not lines and invocation.drift_checks:
        checked = len(invocation.outcomes)
        again = len((invocation.result or {}).get("batchItemFailures") or [])
        verdict = f"{checked} spec(s) checked, IAM matches every one"
        if again:
            verdict += f"; {again} check(s) to try again"
        head(Text("drift checks", style="note"), verdict)
    if not lines:
        ignored = (invocation.result or {}).get("ignored") or ["nothing to reconcile"]
        head(Text("ignored", style="note"), "; ".join(map(str, ignored))[:300])
    grid = _grid({"no_wrap": True, "style": "note"}, {})
    grid.add_row(stamp, Group(*lines))
    return grid
