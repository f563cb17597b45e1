"""Markdown -> one standalone, self-contained HTML file with pandoc (from ``pypandoc``)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from wsteer.io import atomic_path

from .common import RenderError
from .project import html_options

_CSS = """<style>
body { max-width: 50rem; margin: 2rem auto; padding: 0 1.25rem; line-height: 1.55;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif;
  color: #1f2328; background: #fff; }
h1, h2, h3 { line-height: 1.25; } header#title-block-header { margin-bottom: 2rem; }
.abstract { margin: 1rem 0; padding: .75rem 1rem; background: #f6f8fa; border-radius: 6px; }
nav#TOC { margin: 1rem 0 2rem; padding: .5rem 1rem; border-left: 3px solid #d0d7de; }
img { max-width: 100%; height: auto; }
.quarto-figure, .quarto-table { margin: 1.5rem 0; }
.quarto-figure p { text-align: center; margin: 0; }
.figure-caption, .table-caption { font-size: .92em; color: #424a53; }
.figure-caption { text-align: center; }
pre { background: #f6f8fa; padding: .6rem .8rem; border-radius: 6px; overflow-x: auto; }
pre.cell-output { background: #fff; border: 1px solid #eaeef2; }
pre.cell-output-stderr { border-color: #e3b341; } pre.cell-output-error { border-color: #cf222e; }
table { border-collapse: collapse; margin: .5rem auto; font-size: .92em; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #d0d7de; text-align: right; }
thead th { border-bottom: 2px solid #8c959f; }
</style>
"""


class _BlockStyleDumper(yaml.SafeDumper):
    """YAML dumper writing multi-line strings as ``|`` blocks (readable .offline.md)."""


_BlockStyleDumper.add_representer(str, lambda dumper, value: dumper.represent_scalar(
    "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None))


def metadata_block(meta: dict[str, Any], qmd: Path) -> str:
    """Pandoc YAML metadata block with the title-block fields Quarto shows."""
    block: dict[str, Any] = {k: meta[k] for k in ("title", "subtitle", "abstract") if meta.get(k)}
    authors = _author_names(meta.get("author"))
    if authors:
        block["author"] = authors
    if meta.get("date"):
        block["date"] = _resolve_date(meta["date"], qmd)
    if "title" not in block:
        block["pagetitle"] = qmd.stem  # pandoc's HTML needs a <title>
    block["lang"] = meta.get("lang", "en")
    block["toc-title"] = html_options(meta).get("toc-title", "Table of contents")
    dumped = yaml.dump(block, Dumper=_BlockStyleDumper, allow_unicode=True, sort_keys=False)
    return "---\n" + dumped + "---"


def _author_names(value: Any) -> list[str]:
    """Author names from Quarto's string / list / ``{name: ...}`` author forms."""
    items = value if isinstance(value, list) else [value] if value else []
    names = []
    for item in items:
        name = item.get("name", "") if isinstance(item, dict) else item
        if isinstance(name, dict):
            name = name.get("literal") or " ".join(
                str(name[k]) for k in ("given", "family") if name.get(k))
        if name:
            names.append(str(name))
    return names


def _resolve_date(value: Any, qmd: Path) -> str:
    """Quarto's special dates (today, now, last-modified) as ISO dates; others unchanged."""
    if value in ("today", "now"):
        return dt.date.today().isoformat()
    if value == "last-modified":
        return dt.date.fromtimestamp(qmd.stat().st_mtime).isoformat()
    return str(value)


def run_pandoc(markdown: str, html_path: Path, options: dict[str, Any],
               resource_dirs: list[Path], timeout: int) -> None:
    """Convert ``markdown`` to standalone, self-contained HTML at ``html_path`` (atomically).

    ``options`` are the document's HTML options (``toc``, ``toc-depth``, ``number-sections``).
    """
    import pypandoc

    try:
        pandoc = pypandoc.get_pandoc_path()
    except OSError as err:
        raise RenderError(f"pandoc not found ({err}); pip install pypandoc-binary") from None
    with tempfile.TemporaryDirectory(prefix="wsteer-render-") as tmp, \
            atomic_path(html_path) as partial:
        source, header = Path(tmp) / "doc.md", Path(tmp) / "style.html"
        source.write_text(markdown, encoding="utf-8")
        header.write_text(_CSS, encoding="utf-8")
        cmd = [pandoc, str(source), "-f", "markdown", "-t", "html5", "--standalone",
               "--embed-resources", "--mathml", f"--include-in-header={header}",
               f"--resource-path={os.pathsep.join(str(d) for d in resource_dirs)}",
               "-o", str(partial)]
        if options.get("toc"):
            cmd += ["--toc", f"--toc-depth={int(options.get('toc-depth', 3))}"]
        if options.get("number-sections"):
            cmd.append("--number-sections")
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as err:
            raise RenderError(f"pandoc did not finish within {timeout} s") from err
        if proc.returncode != 0:
            raise RenderError(f"pandoc failed (exit {proc.returncode}):\n{proc.stderr.strip()}")
    if proc.stderr.strip():
        print(f"wsteer.render: pandoc: {proc.stderr.strip()}", file=sys.stderr)
