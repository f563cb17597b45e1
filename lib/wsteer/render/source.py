"""Read a ``.qmd``: front matter, include expansion, and its split into prose and cells."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from .common import RenderError, read_yaml

# Quarto's defaults for cell options in HTML output.
CELL_DEFAULTS: dict[str, Any] = {
    "echo": True, "eval": True, "output": True, "include": True, "warning": True, "error": False,
}

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*$\r?\n?", re.S | re.M)
_INCLUDE_LINE = re.compile(r"^\s*\{\{<\s*include\s+(.+?)\s*>\}\}\s*$")
_INCLUDE_ANY = re.compile(r"\{\{<\s*include\s")
_FENCE_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})\s*(?P<info>.*?)\s*$")
_PYTHON_INFO = re.compile(r"^\{python(?:[\s,][^}]*)?\}$")
_OPTION_LINE = re.compile(r"^#\s*\| ?")


@dataclass(frozen=True)
class Line:
    """One source line and where it came from (after include expansion)."""

    text: str
    path: Path
    lineno: int


@dataclass
class MarkdownText:
    """Markdown prose between code blocks; may hold inline expressions and cross-refs."""

    text: str
    origin: str


@dataclass
class Verbatim:
    """A non-executable fenced code block, passed through untouched."""

    text: str


@dataclass
class CodeCell:
    """A ```{python} cell: source without its ``#|`` lines, and its effective options."""

    source: str
    options: dict[str, Any]
    origin: str
    outputs: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> str:
        label = self.options.get("label")
        return f"{self.origin} (cell {label!r})" if label else self.origin


Segment = Union[MarkdownText, Verbatim, CodeCell]


def read_source(qmd: Path, root: Path) -> tuple[dict[str, Any], list[Line]]:
    """Read a ``.qmd``: its YAML front matter and its body lines with includes expanded."""
    if not qmd.is_file():
        raise RenderError(f"document not found: {qmd}")
    text = qmd.read_text(encoding="utf-8")
    match = _FRONT_MATTER.match(text)
    front_matter: dict[str, Any] = {}
    first_line = 1
    if match:
        front_matter = read_yaml(match.group(1), f"{_rel(qmd, root)} front matter")
        first_line += match.group(0).count("\n")
        text = text[match.end():]
    return front_matter, _expand_includes(text, qmd.resolve(), root, first_line, ())


def _expand_includes(text: str, path: Path, root: Path, first_line: int,
                     stack: tuple[Path, ...]) -> list[Line]:
    """Replace each ``{{< include f >}}`` line by the lines of ``f``, recursively."""
    stack = stack + (path,)
    lines: list[Line] = []
    for lineno, raw in enumerate(text.splitlines(), start=first_line):
        where = f"{_rel(path, root)}:{lineno}"
        match = _INCLUDE_LINE.match(raw)
        if match is None:
            if _INCLUDE_ANY.search(raw):
                raise RenderError(f"{where}: an include shortcode must be on a line of its own")
            lines.append(Line(raw, path, lineno))
            continue
        name = match.group(1).strip("'\"")
        base = root if name.startswith("/") else path.parent
        target = (base / name.lstrip("/")).resolve()
        if not target.is_file():
            raise RenderError(f"{where}: included file not found: {name} (looked for {target})")
        if target in stack:
            chain = " -> ".join(_rel(p, root) for p in stack + (target,))
            raise RenderError(f"{where}: include cycle: {chain}")
        lines.extend(_expand_includes(target.read_text(encoding="utf-8"), target, root, 1, stack))
    return lines


def parse_segments(lines: list[Line], root: Path) -> list[Segment]:
    """Split source lines into markdown prose, verbatim code blocks and python cells."""
    segments: list[Segment] = []
    prose: list[Line] = []

    def flush_prose() -> None:
        if prose:
            segments.append(MarkdownText("\n".join(l.text for l in prose), _where(prose[0], root)))
            prose.clear()

    i = 0
    while i < len(lines):
        opening = _FENCE_OPEN.match(lines[i].text)
        if opening is None:
            prose.append(lines[i])
            i += 1
            continue
        end = _closing_fence(lines, i, opening.group("fence"))
        flush_prose()
        if _PYTHON_INFO.match(opening.group("info")):
            if end == len(lines):
                raise RenderError(f"{_where(lines[i], root)}: python cell has no closing fence")
            body = [l.text for l in lines[i + 1:end]]
            segments.append(_parse_cell(body, _where(lines[i], root)))
        else:
            segments.append(Verbatim("\n".join(l.text for l in lines[i:end + 1])))
        i = end + 1
    flush_prose()
    return segments


def _closing_fence(lines: list[Line], start: int, fence: str) -> int:
    """Index of the line closing the fence opened at ``start`` (``len(lines)`` if none)."""
    closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
    for j in range(start + 1, len(lines)):
        if closing.match(lines[j].text):
            return j
    return len(lines)


def _parse_cell(body: list[str], origin: str) -> CodeCell:
    """Split a cell body into its leading ``#|`` YAML options and its code."""
    n_options = 0
    yaml_lines = []
    for text in body:
        match = _OPTION_LINE.match(text)
        if match is None:
            break
        yaml_lines.append(text[match.end():])
        n_options += 1
    options = read_yaml("\n".join(yaml_lines), f"{origin} cell options") if yaml_lines else {}
    return CodeCell(source="\n".join(body[n_options:]).strip("\n"), options=options, origin=origin)


def _rel(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when inside it, for messages."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _where(line: Line, root: Path) -> str:
    """``file:line`` of a source line, for messages."""
    return f"{_rel(line.path, root)}:{line.lineno}"
