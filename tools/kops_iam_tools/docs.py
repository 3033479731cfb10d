"""Docs generated from code, so they cannot drift: the settings table.

``make docs-tables`` rewrites each ``<!-- generated:settings -->`` block of the docs from
:data:`kops_iam.application.settings.SETTINGS`; a test fails when a block is stale.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Final

from kops_iam.application.settings import SETTINGS

BEGIN: Final = "<!-- generated:settings -->"
END: Final = "<!-- /generated:settings -->"
_BLOCK: Final = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)


def _code(text: str | None) -> str:
    return f"`{text}`" if text else "-"


def _default(text: str) -> str:
    head, sep, rest = text.partition(":")
    if head in ("none",):
        return text
    return f"`{head}`{sep}{rest}" if sep else f"`{text}`"


def settings_markdown() -> str:
    """The settings table in Markdown: every name a setting has, its default and meaning."""
    lines = [
        "| Context key (`cdk deploy -c`) | Function environment | CLI flag | Default | Meaning |",
        "|---|---|---|---|---|",
    ]
    for setting in SETTINGS:
        lines.append(
            f"| {_code(setting.context_key)} | {_code(setting.env)} | {_code(setting.flag)} "
            f"| {_default(setting.default)} | {setting.description} |"
        )
    return "\n".join(lines)


def render(text: str) -> str:
    """``text`` with every generated block replaced by the current table."""
    return _BLOCK.sub(lambda _: f"{BEGIN}\n{settings_markdown()}\n{END}", text)


def main(paths: list[str]) -> int:
    """Rewrite the generated blocks of ``paths``; print the files that changed."""
    for name in paths:
        path = Path(name)
        text = path.read_text(encoding="utf-8")
        new = render(text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"updated {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover - make docs-tables
    sys.exit(main(sys.argv[1:]))
