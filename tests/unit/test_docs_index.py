"""The decision records stay findable: every ADR is in the index, every index row a file."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ADR = ROOT / "docs" / "adr"


def test_every_adr_is_listed_in_the_index_with_its_number() -> None:
    index = (ADR / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\((\d{4}-[a-z0-9.-]+\.md)\)", index))
    files = {path.name for path in ADR.glob("[0-9][0-9][0-9][0-9]-*.md")}
    assert linked == files
    for name in files:
        number = int(name[:4])
        assert f"| [{number}]({name}) |" in index, name


def test_every_adr_has_a_status_and_the_three_parts() -> None:
    for path in ADR.glob("[0-9][0-9][0-9][0-9]-*.md"):
        text = path.read_text(encoding="utf-8")
        assert re.search(r"(?m)^Status: ", text), path.name
        for part in ("## Context", "## Decision", "## Consequences"):
            assert part in text, (path.name, part)
