"""The README is a front page and the rest is a site (mkdocs.yml, docs/; ADR 55).

``make docs`` (part of ``make test``) builds the site with ``--strict``, so broken links and
anchors fail there; these tests hold what the build does not check.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"


def _config() -> dict[str, object]:
    # mkdocs.yml names a Python function for the mermaid fence: read it without building it
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda *_: None)
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=Loader)
    assert isinstance(config, dict)
    return config


def _nav_pages(nav: object) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [page for item in nav for page in _nav_pages(item)]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in _nav_pages(value)]
    return []


def test_the_readme_is_a_front_page_that_starts_with_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) <= 16 * 1024
    lines = text.splitlines()
    assert lines[:5] == [
        "# kops-iam",
        "",
        "```sh",
        "make demo   # the whole flow on an embedded AWS emulator: upload specs, watch IAM "
        "follow, read the audit trail",
        "make test   # lint, type-check and run every test (unit, integration, end-to-end, "
        "infrastructure)",
    ]
    # A five-line quick start and a five-line deploy, each one block of commands
    for title in ("## Quick start", "## Deploy"):
        block = text.split(title, 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
        assert len(block.splitlines()) == 5, (title, block)
    assert "make deploy" in text and "make destroy" in text and "make diff" in text


def test_every_link_of_the_readme_reaches_a_file() -> None:
    for target in re.findall(r"\]\(([^)#\s]+)\)", README.read_text(encoding="utf-8")):
        if not re.match(r"[a-z]+://", target):
            assert (ROOT / target).exists(), target


def test_every_page_is_in_the_site_and_the_readme_links_each() -> None:
    config = _config()
    nav = set(_nav_pages(config["nav"]))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    adrs = {p for p in pages if re.fullmatch(r"adr/\d{4}-.*\.md", p)}
    assert pages - adrs == nav  # every page in the nav; the ADRs through their index
    readme = README.read_text(encoding="utf-8")
    for page in nav - {"index.md"}:
        assert f"(docs/{page})" in readme, page


def test_the_site_builds_offline() -> None:
    # No web fonts, and no plugin that downloads at build time (privacy, social)
    config = _config()
    theme = config["theme"]
    assert isinstance(theme, dict) and theme["name"] == "material" and theme["font"] is False
    plugins = config["plugins"]
    assert isinstance(plugins, list)
    names = {p if isinstance(p, str) else next(iter(p)) for p in plugins}
    assert names == {"search", "offline"}
    assert config["strict"] is True
