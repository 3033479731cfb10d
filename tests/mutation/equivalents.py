"""The listed equivalent mutants (``equivalents.txt``) and how a mutant is matched to one.

A mutant is named by mutmut after its function and a running number
(``kops_iam.domain.naming.x_truncate_name__mutmut_6``); the number shifts whenever the
function changes. An entry therefore names the mutant by what does not shift: the function,
the source line(s) the mutant removes and the line(s) it puts in their place, compared with
their surrounding whitespace stripped. Each entry carries a one-line reason::

    kops_iam.domain.naming.truncate_name
      - digest = fnv1a_32(name.encode("utf-8")).to_bytes(4, "big")
      + digest = fnv1a_32(name.encode("utf-8")).to_bytes(4, )
      why: int.to_bytes defaults to "big" since Python 3.11

Entries are separated by blank lines; ``#`` starts a comment line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
EQUIVALENTS = HERE / "equivalents.txt"

_MUTANT = re.compile(r"^(?P<module>.+)\.x(?:_|ǁ(?P<cls>[^ǁ]+)ǁ)(?P<function>.+?)__mutmut_\d+$")


class EquivalentsError(ValueError):
    """The equivalents file is malformed: names the line and the reason."""


@dataclass(frozen=True)
class Change:
    """What a mutant changes in its function: the lines it removes and those it adds."""

    function: str
    removed: tuple[str, ...]
    added: tuple[str, ...]


@dataclass(frozen=True)
class Equivalent:
    """One listed equivalent mutant and why it cannot be told apart from the original."""

    change: Change
    why: str
    line: int


def function_of(mutant: str) -> str:
    """``kops_iam.m.x_f__mutmut_3`` -> ``kops_iam.m.f``; a method -> ``kops_iam.m.Class.f``."""
    match = _MUTANT.match(mutant)
    if match is None:
        raise ValueError(f"not a mutmut mutant name: {mutant!r}")
    owner = f"{match['module']}.{match['cls']}" if match["cls"] else match["module"]
    return f"{owner}.{match['function']}"


def change_of(mutant: str, diff: str) -> Change:
    """The change of ``mutant`` from the unified diff mutmut shows for it."""
    removed: list[str] = []
    added: list[str] = []
    for line in diff.splitlines():
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("-"):
            removed.append(_normal(line[1:]))
        elif line.startswith("+"):
            added.append(_normal(line[1:]))
    return Change(function_of(mutant), tuple(removed), tuple(added))


def _normal(line: str) -> str:
    return " ".join(line.split())


def parse(text: str) -> list[Equivalent]:
    """The entries of an equivalents file; :class:`EquivalentsError` names any bad line."""
    entries: list[Equivalent] = []
    block: list[tuple[int, str]] = []
    for number, raw in enumerate([*text.splitlines(), ""], start=1):
        line = raw.rstrip()
        if line.lstrip().startswith("#"):
            continue
        if line.strip():
            block.append((number, line))
            continue
        if block:
            entries.append(_entry(block))
            block = []
    return entries


def _entry(block: list[tuple[int, str]]) -> Equivalent:
    first, function = block[0]
    if function.startswith((" ", "\t")) or not function.startswith("kops_iam."):
        raise EquivalentsError(f"line {first}: an entry starts with the function's dotted name")
    removed: list[str] = []
    added: list[str] = []
    why = ""
    for number, line in block[1:]:
        body = line.strip()
        if body.startswith("- ") or body == "-":
            removed.append(_normal(body[1:]))
        elif body.startswith("+ ") or body == "+":
            added.append(_normal(body[1:]))
        elif body.startswith("why:"):
            if why:
                raise EquivalentsError(f"line {number}: one reason per entry")
            why = body[len("why:") :].strip()
        else:
            raise EquivalentsError(f"line {number}: expected '- line', '+ line' or 'why: reason'")
    if not removed and not added:
        raise EquivalentsError(f"line {first}: the entry names no changed line ('-' / '+')")
    if not why:
        raise EquivalentsError(f"line {first}: the entry has no reason ('why: ...')")
    return Equivalent(Change(function, tuple(removed), tuple(added)), why, first)


def load(path: Path = EQUIVALENTS) -> list[Equivalent]:
    return parse(path.read_text(encoding="utf-8"))


def match(change: Change, entries: list[Equivalent]) -> Equivalent | None:
    """The entry listing ``change``, if any."""
    for entry in entries:
        if entry.change == change:
            return entry
    return None
