"""Render the paper: ``quarto render`` where Quarto is installed, else an offline renderer.

Both renderers read the same ``_quarto.yml`` and ``.qmd`` sources. The offline renderer
implements the subset of Quarto this repo uses:

* ``_quarto.yml``: ``project.render`` (paths or globs, ``!`` excludes), ``project.output-dir``,
  ``project.execute-dir`` (``file`` | ``project``) and document options (``execute``,
  ``format.html``, ``jupyter``) merged under each document's front matter.
* front matter: ``title``, ``subtitle``, ``author``, ``date`` (``today``/``now``/
  ``last-modified`` too), ``abstract``, ``lang``, ``execute``, ``format.html`` (``toc``,
  ``toc-depth``, ``toc-title``, ``number-sections``, ``fig-width``, ``fig-height``, ``fig-dpi``).
* ``{{< include path >}}`` on a line of its own, recursively (relative to the including file,
  ``/path`` relative to the project root).
* ```` ```{python} ```` cells with ``#|`` options ``label``, ``fig-cap``, ``tbl-cap``, ``echo``,
  ``eval``, ``output`` (incl. ``asis``), ``include``, ``warning``, ``error``; all cells of a
  document run in one Jupyter kernel.
* inline `` `{python} expr` ``, evaluated as Quarto does: after the cells that precede it, via the
  kernel's ``user_expressions``; ``text/markdown`` is inserted as markdown, ``text/html`` as raw
  HTML, ``text/plain`` as is except that a quoted string loses its quotes and is escaped.
* ``fig-``/``tbl-`` labels numbered in document order; ``@fig-x``/``[@fig-x]``/``[-@fig-x]``.

Pandoc (from ``pypandoc``) turns the executed markdown into one self-contained HTML file.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Union

import yaml

Renderer = Literal["auto", "quarto", "offline"]
RENDERERS: tuple[str, ...] = ("auto", "quarto", "offline")

INSTALL_QUARTO = (
    "Quarto is not on PATH. Install it with `pip install quarto-cli` (needs network access: "
    "the package downloads the Quarto binary) or with the installer from "
    "https://quarto.org/docs/get-started/, or render offline with --renderer offline."
)

# Folders (under the project root, git-ignored) for state that Jupyter, IPython and
# matplotlib would otherwise write to $HOME.
_STATE_DIRS = {
    "IPYTHONDIR": "ipython",
    "JUPYTER_RUNTIME_DIR": "runtime",
    "JUPYTER_DATA_DIR": "data",
    "JUPYTER_CONFIG_DIR": "config",
    "MPLCONFIGDIR": "matplotlib",
}

# Quarto's defaults for cell options in HTML output.
_CELL_DEFAULTS: dict[str, Any] = {
    "echo": True, "eval": True, "output": True, "include": True, "warning": True, "error": False,
}
_FLOAT_NAMES = {"fig": "Figure", "tbl": "Table"}

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*$\r?\n?", re.S | re.M)
_INCLUDE_LINE = re.compile(r"^\s*\{\{<\s*include\s+(.+?)\s*>\}\}\s*$")
_INCLUDE_ANY = re.compile(r"\{\{<\s*include\s")
_FENCE_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})\s*(?P<info>.*?)\s*$")
_PYTHON_INFO = re.compile(r"^\{python(?:[\s,][^}]*)?\}$")
_OPTION_LINE = re.compile(r"^#\s*\| ?")
_INLINE_EXPR = re.compile(r"(^|[^`])`\{python\}[ \t]([^`]+)`", re.M)
_CODE_SPAN = re.compile(r"(`+).+?\1", re.S)
_LABEL = r"(?:fig|tbl)-[A-Za-z0-9_-]*[A-Za-z0-9_]"
_BRACKET_REF = re.compile(rf"\[(-?)@({_LABEL})\]")
_BARE_REF = re.compile(rf"(?<![\w@.])@({_LABEL})")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_MD_ESCAPE = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~^$@,])")

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

_KERNEL_SETUP = """\
def __wsteer_setup(width, height, dpi):
    try:
        import matplotlib
        import matplotlib_inline  # noqa: F401
    except ImportError:
        return
    get_ipython().run_line_magic("matplotlib", "inline")
    matplotlib.rcParams.update({"figure.figsize": (width, height), "figure.dpi": dpi})
__wsteer_setup(%r, %r, %r)
del __wsteer_setup
"""


class RenderError(Exception):
    """A render failed; the message says where (file:line) and why."""


@dataclass(frozen=True)
class RenderResult:
    """Outcome of :func:`render`: the (first) HTML file written and the renderer used."""

    html_path: Path
    renderer: str
    html_paths: tuple[Path, ...] = ()  # every HTML file written, in render-list order


@dataclass(frozen=True)
class Project:
    """What the renderers need from ``_quarto.yml``."""

    root: Path
    targets: tuple[Path, ...]  # absolute .qmd paths, from project.render
    output_dir: Path | None  # absolute; None writes next to each source, as Quarto does
    execute_dir: str  # "file" or "project"
    metadata: dict[str, Any]  # document options: every top-level key except `project`


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


# ---------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------


def render(project_root: Path = Path("."), renderer: Renderer = "auto",
           timeout: int = 600) -> RenderResult:
    """Render every document of the Quarto project at ``project_root`` to HTML.

    ``renderer='auto'`` uses ``quarto render`` when ``quarto`` is on PATH, else the offline
    renderer. ``timeout`` bounds each cell (offline) or the whole ``quarto render`` run.
    Prints one line naming the renderer used. Raises :class:`RenderError` on failure.
    """
    if renderer not in RENDERERS:
        raise ValueError(f"unknown renderer {renderer!r}; choose one of {', '.join(RENDERERS)}")
    root = Path(project_root).resolve()
    quarto = shutil.which("quarto")
    if renderer == "quarto" and quarto is None:
        raise RenderError(INSTALL_QUARTO)
    chosen = "quarto" if renderer == "quarto" or (renderer == "auto" and quarto) else "offline"
    reason = ("requested" if renderer != "auto"
              else f"quarto found at {quarto}" if quarto else "quarto not found on PATH")
    print(f"wsteer.render: using the {chosen} renderer ({reason})", flush=True)
    project = load_project(root)
    with local_state_dirs(root):
        if chosen == "quarto":
            paths = _render_with_quarto(project, quarto or "quarto", timeout)
        else:
            paths = tuple(render_offline(project, qmd, timeout) for qmd in project.targets)
    return RenderResult(html_path=paths[0], renderer=chosen, html_paths=paths)


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python -m wsteer.render [--renderer auto|quarto|offline] [--project .]``."""
    parser = argparse.ArgumentParser(prog="python -m wsteer.render",
                                     description="Render the paper to self-contained HTML.")
    parser.add_argument("--renderer", choices=RENDERERS, default="auto")
    parser.add_argument("--project", type=Path, default=Path("."), help="project root")
    parser.add_argument("--timeout", type=int, default=600,
                        help="seconds per cell (offline) or for the whole quarto run")
    args = parser.parse_args(argv)
    try:
        result = render(args.project, args.renderer, args.timeout)
    except RenderError as err:
        print(f"wsteer.render: error: {err}", file=sys.stderr)
        return 1
    for path in result.html_paths:
        print(f"wsteer.render: wrote {path}")
    return 0


# ---------------------------------------------------------------------------------------
# Project and environment
# ---------------------------------------------------------------------------------------


def load_project(root: Path) -> Project:
    """Read ``root/_quarto.yml``: render list, output-dir, execute-dir, document options."""
    config_path = root / "_quarto.yml"
    if not config_path.is_file():
        raise RenderError(f"no _quarto.yml in {root}: not a Quarto project")
    config = _read_yaml(config_path.read_text(encoding="utf-8"), str(config_path))
    options = config.get("project") or {}
    patterns = options.get("render")
    if not patterns:
        raise RenderError(f"{config_path}: list the documents to render under project: render:")
    execute_dir = options.get("execute-dir", "file")
    if execute_dir not in ("file", "project"):
        raise RenderError(f"{config_path}: execute-dir must be 'file' or 'project'")
    output_dir = options.get("output-dir")
    return Project(
        root=root,
        targets=_expand_render_list(root, [str(p) for p in patterns]),
        output_dir=(root / output_dir).resolve() if output_dir else None,
        execute_dir=execute_dir,
        metadata={k: v for k, v in config.items() if k != "project"},
    )


def _expand_render_list(root: Path, patterns: list[str]) -> tuple[Path, ...]:
    """Resolve ``project.render`` entries (paths or globs; ``!pattern`` excludes) to files."""
    chosen: list[Path] = []
    excluded: set[Path] = set()
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!")
        if any(ch in pattern for ch in "*?["):
            matches = sorted(p.resolve() for p in root.glob(pattern) if p.is_file())
        else:
            matches = [(root / pattern).resolve()] if (root / pattern).is_file() else []
        if negate:
            excluded.update(matches)
        elif not matches:
            raise RenderError(f"_quarto.yml: render target {pattern!r} matches no file in {root}")
        else:
            chosen.extend(m for m in matches if m not in chosen)
    targets = tuple(p for p in chosen if p not in excluded)
    if not targets:
        raise RenderError("_quarto.yml: the render list selects no document")
    return targets


@contextlib.contextmanager
def local_state_dirs(root: Path) -> Iterator[None]:
    """Point unset Jupyter/IPython/matplotlib state variables at ``root/cache/jupyter/*``.

    The variables are set for the duration of the render only, so nothing goes to $HOME.
    """
    added = []
    for var, name in _STATE_DIRS.items():
        if not os.environ.get(var):
            path = root / "cache" / "jupyter" / name
            path.mkdir(parents=True, exist_ok=True)
            os.environ[var] = str(path)
            added.append(var)
    try:
        yield
    finally:
        for var in added:
            os.environ.pop(var, None)


def _render_with_quarto(project: Project, quarto: str, timeout: int) -> tuple[Path, ...]:
    """Run ``quarto render`` in the project root; return the HTML files it wrote."""
    try:
        proc = subprocess.run([quarto, "render"], cwd=project.root, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        raise RenderError(f"`quarto render` did not finish within {timeout} s") from err
    if proc.returncode != 0:
        raise RenderError(f"`quarto render` failed with exit code {proc.returncode}")
    paths = []
    for qmd in project.targets:
        # Quarto keeps a document's path relative to the project inside output-dir.
        relative = qmd.relative_to(project.root).with_suffix(".html")
        base = project.output_dir or project.root
        candidates = [base / relative, base / relative.name]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise RenderError(f"quarto render succeeded but wrote none of {candidates}")
        paths.append(found)
    return tuple(paths)


# ---------------------------------------------------------------------------------------
# Offline renderer: parse
# ---------------------------------------------------------------------------------------


def render_offline(project: Project, qmd: Path, timeout: int = 600) -> Path:
    """Render one ``.qmd`` offline: parse, execute, assemble markdown, run pandoc.

    Writes ``<output-dir>/<stem>.html`` and ``<output-dir>/<stem>.offline.md``; returns the HTML.
    """
    front_matter, lines = read_source(qmd, project.root)
    meta = _deep_merge(project.metadata, front_matter)
    html_options = _html_options(meta)
    execute = {**(meta.get("execute") or {}), **(html_options.get("execute") or {})}
    segments = parse_segments(lines, project.root)
    cells = [s for s in segments if isinstance(s, CodeCell)]
    for cell in cells:
        cell.options = {**_CELL_DEFAULTS,
                        **{k: v for k, v in execute.items() if k in _CELL_DEFAULTS},
                        **cell.options}
    refs = number_floats(cells)
    cwd = project.root if project.execute_dir == "project" else qmd.parent
    figure = (html_options.get("fig-width", execute.get("fig-width", 7)),
              html_options.get("fig-height", execute.get("fig-height", 5)),
              html_options.get("fig-dpi", execute.get("fig-dpi", 96)))
    execute_document(segments, _kernel_name(meta), cwd, timeout, figure)
    body = assemble_markdown(segments, refs)
    markdown = _metadata_block(meta, qmd) + "\n\n" + body + "\n"
    out_dir = project.output_dir or qmd.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    _atomic_write_text(out_dir / f"{qmd.stem}.offline.md", markdown)
    html_path = out_dir / f"{qmd.stem}.html"
    run_pandoc(markdown, html_path, html_options, [qmd.parent, project.root], timeout)
    return html_path


def read_source(qmd: Path, root: Path) -> tuple[dict[str, Any], list[Line]]:
    """Read a ``.qmd``: its YAML front matter and its body lines with includes expanded."""
    if not qmd.is_file():
        raise RenderError(f"document not found: {qmd}")
    text = qmd.read_text(encoding="utf-8")
    match = _FRONT_MATTER.match(text)
    front_matter: dict[str, Any] = {}
    first_line = 1
    if match:
        front_matter = _read_yaml(match.group(1), f"{_rel(qmd, root)} front matter")
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
        target = ((root / name.lstrip("/")) if name.startswith("/") else path.parent / name).resolve()
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
    options = _read_yaml("\n".join(yaml_lines), f"{origin} cell options") if yaml_lines else {}
    return CodeCell(source="\n".join(body[n_options:]).strip("\n"), options=options, origin=origin)


def number_floats(cells: list[CodeCell]) -> dict[str, str]:
    """Map each ``fig-``/``tbl-`` label to its reference text ("Figure 2"), in document order."""
    refs: dict[str, str] = {}
    seen: set[str] = set()
    counters = {kind: 0 for kind in _FLOAT_NAMES}
    for cell in cells:
        label = cell.options.get("label")
        if label is None:
            continue
        if not isinstance(label, str) or not label:
            raise RenderError(f"{cell.origin}: label must be a non-empty string")
        if label in seen:
            raise RenderError(f"{cell.origin}: duplicate label {label!r}")
        seen.add(label)
        kind = label.split("-", 1)[0]
        if kind in counters and "-" in label and cell.options["include"] is not False:
            counters[kind] += 1
            refs[label] = f"{_FLOAT_NAMES[kind]} {counters[kind]}"
    return refs


# ---------------------------------------------------------------------------------------
# Offline renderer: execute
# ---------------------------------------------------------------------------------------


class KernelSession:
    """One Jupyter kernel that runs a document's cells and inline expressions in order."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._count = 0

    def run(self, cell: CodeCell) -> None:
        """Execute ``cell`` and store its outputs; a raised error fails unless ``error: true``."""
        import nbformat
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

        self._count += 1
        nb_cell = nbformat.v4.new_code_cell(source=cell.source)
        if cell.options["error"]:
            nb_cell.metadata["tags"] = ["raises-exception"]
        self._client.nb.cells.append(nb_cell)
        try:
            self._client.execute_cell(nb_cell, len(self._client.nb.cells) - 1,
                                      execution_count=self._count)
        except CellExecutionError:
            raise RenderError(_cell_failure(cell, nb_cell.outputs)) from None
        except (CellTimeoutError, DeadKernelError) as err:
            raise RenderError(f"{cell.describe()}: {type(err).__name__}: {err}\n"
                              f"--- cell source ---\n{cell.source}") from None
        cell.outputs = [dict(o) for o in nb_cell.outputs]

    def evaluate(self, expressions: list[str], origin: str) -> list[dict[str, Any]]:
        """Evaluate inline expressions (as Jupyter ``user_expressions``); return mime bundles."""
        keys = {str(i): expr for i, expr in enumerate(expressions)}
        msg_id = self._client.kc.execute("", store_history=False, user_expressions=keys)
        reply = self._client.wait_for_reply(msg_id)
        content = (reply or {}).get("content", {})
        if content.get("status") != "ok":
            raise RenderError(f"{origin}: inline expressions failed: "
                              f"{content.get('ename')}: {content.get('evalue')}")
        bundles = []
        for key, expr in keys.items():
            result = content["user_expressions"][key]
            if result.get("status") != "ok":
                trace = _ANSI.sub("", "\n".join(result.get("traceback", [])))
                raise RenderError(f"{origin}: inline expression `{{python}} {expr}` raised "
                                  f"{result.get('ename')}: {result.get('evalue')}\n{trace}")
            bundles.append(result.get("data", {}))
        return bundles


@contextlib.contextmanager
def kernel_session(kernel_name: str, cwd: Path, timeout: int,
                   figure: tuple[float, float, float]) -> Iterator[KernelSession]:
    """Start a kernel with working directory ``cwd``; shut it down on exit."""
    import nbformat
    from nbclient import NotebookClient

    client = NotebookClient(nbformat.v4.new_notebook(), kernel_name=kernel_name, timeout=timeout,
                            startup_timeout=max(60, timeout), allow_errors=False,
                            record_timing=False, resources={"metadata": {"path": str(cwd)}},
                            config=_kernel_manager_config())
    with client.setup_kernel():
        session = KernelSession(client)
        session.run(CodeCell(source=_KERNEL_SETUP % figure, options=dict(_CELL_DEFAULTS),
                             origin="<wsteer.render kernel setup>"))
        client.nb.cells.clear()
        yield session


def _kernel_manager_config() -> Any:
    """Ask for CurveZMQ-encrypted kernel transport where jupyter_client and pyzmq support it."""
    import zmq
    from jupyter_client import KernelManager
    from traitlets.config import Config

    if "transport_encryption" in KernelManager.class_traits() and zmq.has("curve"):
        return Config({"KernelManager": {"transport_encryption": "auto"}})
    return Config()


def execute_document(segments: list[Segment], kernel_name: str, cwd: Path, timeout: int,
                     figure: tuple[float, float, float]) -> None:
    """Run cells and inline expressions in document order, in one kernel, in place.

    Each inline expression is evaluated right after the cells that precede it. No kernel is
    started when nothing needs executing.
    """
    needs_kernel = any(
        (isinstance(s, CodeCell) and s.options["eval"])
        or (isinstance(s, MarkdownText) and _INLINE_EXPR.search(s.text))
        for s in segments)
    if not needs_kernel:
        return
    with kernel_session(kernel_name, cwd, timeout, figure) as session:
        for segment in segments:
            if isinstance(segment, CodeCell) and segment.options["eval"]:
                session.run(segment)
            elif isinstance(segment, MarkdownText):
                segment.text = _substitute_inline(segment, session)


def _substitute_inline(segment: MarkdownText, session: KernelSession) -> str:
    """Replace each `` `{python} expr` `` in ``segment`` by its formatted value."""
    expressions = [m.group(2).strip() for m in _INLINE_EXPR.finditer(segment.text)]
    if not expressions:
        return segment.text
    values = iter(_format_inline(b) for b in session.evaluate(expressions, segment.origin))
    return _INLINE_EXPR.sub(lambda m: m.group(1) + next(values), segment.text)


def _format_inline(bundle: dict[str, Any]) -> str:
    """Format an inline value as Quarto does (markdown, raw HTML, or escaped plain text)."""
    if "text/markdown" in bundle:
        return _text(bundle["text/markdown"])
    if "text/html" in bundle:
        return f"`{_text(bundle['text/html'])}`{{=html}}"
    plain = _text(bundle.get("text/plain", ""))
    if len(plain) >= 2 and plain[0] == plain[-1] and plain[0] in "'\"":
        return _MD_ESCAPE.sub(r"\\\1", plain[1:-1])
    return plain


def _cell_failure(cell: CodeCell, outputs: list[Any]) -> str:
    """Error message for a failed cell: location, exception, source, traceback."""
    error = next((o for o in outputs if o.get("output_type") == "error"), {})
    trace = _ANSI.sub("", "\n".join(error.get("traceback", [])))
    return (f"{cell.describe()} raised {error.get('ename', 'an error')}: {error.get('evalue', '')}"
            f"\n--- cell source ---\n{cell.source}\n--- traceback ---\n{trace}")


# ---------------------------------------------------------------------------------------
# Offline renderer: assemble markdown and convert with pandoc
# ---------------------------------------------------------------------------------------


def assemble_markdown(segments: list[Segment], refs: dict[str, str]) -> str:
    """Join executed segments into pandoc markdown, resolving cross-references."""
    blocks = []
    for segment in segments:
        if isinstance(segment, MarkdownText):
            blocks.append(resolve_crossrefs(segment.text, refs, segment.origin))
        elif isinstance(segment, Verbatim):
            blocks.append(segment.text)
        else:
            blocks.append(format_cell(segment, refs, lambda t, o=segment.origin:
                                      resolve_crossrefs(t, refs, o)))
    return "\n\n".join(b for b in blocks if b.strip())


def resolve_crossrefs(text: str, refs: dict[str, str], origin: str) -> str:
    """Turn ``@fig-x``, ``[@fig-x]`` and ``[-@fig-x]`` (outside code spans) into links."""

    def link(label: str, number_only: bool) -> str:
        if label not in refs:
            known = ", ".join(sorted(refs)) or "none"
            raise RenderError(f"{origin}: unknown cross-reference @{label} (known: {known})")
        shown = refs[label].split(" ", 1)[1] if number_only else refs[label]
        return f"[{shown}](#{label})"

    def outside_code(chunk: str) -> str:
        chunk = _BRACKET_REF.sub(lambda m: link(m.group(2), m.group(1) == "-"), chunk)
        return _BARE_REF.sub(lambda m: link(m.group(1), False), chunk)

    pieces, last = [], 0
    for span in _CODE_SPAN.finditer(text):
        pieces += [outside_code(text[last:span.start()]), span.group(0)]
        last = span.end()
    return "".join(pieces + [outside_code(text[last:])])


def format_cell(cell: CodeCell, refs: dict[str, str], prose: Callable[[str], str]) -> str:
    """Markdown for one executed cell: echoed code, outputs, figure/table wrapper."""
    opts = cell.options
    if opts["include"] is False:
        return ""
    parts = [_fenced(cell.source, "{.python .cell-code}")] if opts["echo"] and cell.source else []
    if opts["output"] is not False:
        asis = opts["output"] == "asis"
        shown = [_format_output(o, asis, prose) for o in _visible_outputs(cell.outputs, opts)]
        parts.append(_wrap_float("\n\n".join(s for s in shown if s), opts, refs))
    inner = "\n\n".join(p for p in parts if p)
    if not inner:
        return ""
    label = opts.get("label")
    cell_id = f"#{label} " if label and _float_kind(opts) is None else ""
    return f"::: {{{cell_id}.cell}}\n{inner}\n:::"


def _visible_outputs(outputs: list[dict[str, Any]], opts: dict[str, Any]) -> list[dict[str, Any]]:
    """Drop stderr when ``warning: false``; merge consecutive stream outputs of one stream."""
    visible: list[dict[str, Any]] = []
    for output in outputs:
        if output.get("output_type") == "stream":
            if output.get("name") == "stderr" and opts["warning"] is False:
                continue
            previous = visible[-1] if visible else {}
            if previous.get("output_type") == "stream" and previous.get("name") == output.get("name"):
                visible[-1] = {**previous, "text": previous["text"] + output["text"]}
                continue
        visible.append(output)
    return visible


def _format_output(output: dict[str, Any], asis: bool, prose: Callable[[str], str]) -> str:
    """Markdown for one Jupyter output: image, markdown, raw HTML or preformatted text."""
    kind = output.get("output_type")
    if kind == "stream":
        text = _ANSI.sub("", _text(output.get("text", "")))
        return text if asis else _fenced(text, f"{{.cell-output .cell-output-{output.get('name')}}}")
    if kind == "error":  # only reached with `error: true`
        trace = _ANSI.sub("", "\n".join(output.get("traceback", [])))
        return _fenced(trace, "{.cell-output .cell-output-error}")
    data = output.get("data", {})
    for mime in ("image/png", "image/jpeg"):
        if mime in data:
            return f"![](data:{mime};base64,{''.join(_text(data[mime]).split())})"
    if "image/svg+xml" in data:
        return _fenced(_text(data["image/svg+xml"]), "{=html}")
    if "text/markdown" in data:
        return prose(_text(data["text/markdown"]))
    if "text/html" in data:
        return _fenced(_text(data["text/html"]), "{=html}")
    if "text/plain" in data:
        text = _text(data["text/plain"])
        return text if asis else _fenced(text, "{.cell-output .cell-output-display}")
    return ""


def _float_kind(opts: dict[str, Any]) -> str | None:
    """``'fig'``/``'tbl'`` when the cell is a figure/table (by label prefix or caption)."""
    label = str(opts.get("label") or "")
    for kind in _FLOAT_NAMES:
        if label.startswith(kind + "-"):
            return kind
    return next((kind for kind in _FLOAT_NAMES if opts.get(f"{kind}-cap")), None)


def _wrap_float(body: str, opts: dict[str, Any], refs: dict[str, str]) -> str:
    """Wrap a figure/table's outputs in a div with its id and "Figure N: caption"."""
    kind = _float_kind(opts)
    if kind is None or not body:
        return body
    label = opts.get("label")
    caption = opts.get(f"{kind}-cap") or ""
    if isinstance(caption, list):
        caption = "; ".join(str(c) for c in caption)
    number = refs.get(label or "")
    caption = f"{number}: {caption}" if number and caption else (number or str(caption))
    ident = f"#{label} " if number else ""
    cap = f"::: {{.{'figure' if kind == 'fig' else 'table'}-caption}}\n{caption}\n:::" if caption else ""
    ordered = [body, cap] if kind == "fig" else [cap, body]
    inner = "\n\n".join(p for p in ordered if p)
    return f":::: {{{ident}.quarto-{'figure' if kind == 'fig' else 'table'}}}\n{inner}\n::::"


def _metadata_block(meta: dict[str, Any], qmd: Path) -> str:
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
    block["toc-title"] = _html_options(meta).get("toc-title", meta.get("toc-title", "Table of contents"))
    dumped = yaml.dump(block, Dumper=_BlockStyleDumper, allow_unicode=True, sort_keys=False)
    return "---\n" + dumped + "---"


def run_pandoc(markdown: str, html_path: Path, html_options: dict[str, Any],
               resource_dirs: list[Path], timeout: int) -> None:
    """Convert ``markdown`` to standalone, self-contained HTML at ``html_path`` (atomically)."""
    import pypandoc

    try:
        pandoc = pypandoc.get_pandoc_path()
    except OSError as err:
        raise RenderError(f"pandoc not found ({err}); pip install pypandoc-binary") from None
    html_path.parent.mkdir(parents=True, exist_ok=True)
    partial = html_path.with_name(f".{html_path.name}.tmp")
    with tempfile.TemporaryDirectory(prefix="wsteer-render-") as tmp:
        source, header = Path(tmp) / "doc.md", Path(tmp) / "style.html"
        source.write_text(markdown, encoding="utf-8")
        header.write_text(_CSS, encoding="utf-8")
        cmd = [pandoc, str(source), "-f", "markdown", "-t", "html5", "--standalone",
               "--embed-resources", "--mathml", f"--include-in-header={header}",
               f"--resource-path={os.pathsep.join(str(d) for d in resource_dirs)}",
               "-o", str(partial)]
        if html_options.get("toc"):
            cmd += ["--toc", f"--toc-depth={int(html_options.get('toc-depth', 3))}"]
        if html_options.get("number-sections"):
            cmd.append("--number-sections")
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as err:
            partial.unlink(missing_ok=True)
            raise RenderError(f"pandoc did not finish within {timeout} s") from err
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        raise RenderError(f"pandoc failed (exit {proc.returncode}):\n{proc.stderr.strip()}")
    if proc.stderr.strip():
        print(f"wsteer.render: pandoc: {proc.stderr.strip()}", file=sys.stderr)
    os.replace(partial, html_path)


# ---------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------


class _BlockStyleDumper(yaml.SafeDumper):
    """YAML dumper writing multi-line strings as ``|`` blocks (readable .offline.md)."""


_BlockStyleDumper.add_representer(str, lambda dumper, value: dumper.represent_scalar(
    "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None))


def _read_yaml(text: str, where: str) -> dict[str, Any]:
    """Parse a YAML mapping (empty text gives ``{}``); errors name ``where``."""
    try:
        value = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as err:
        raise RenderError(f"{where}: invalid YAML: {err}") from None
    if not isinstance(value, dict):
        raise RenderError(f"{where}: expected a YAML mapping, got {type(value).__name__}")
    return value


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge two option mappings; nested mappings merge, other values in ``override`` win."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _html_options(meta: dict[str, Any]) -> dict[str, Any]:
    """The ``format: html:`` options (``{}`` for ``format: html`` or no format)."""
    fmt = meta.get("format")
    html = fmt.get("html") if isinstance(fmt, dict) else None
    return html if isinstance(html, dict) else {}


def _kernel_name(meta: dict[str, Any]) -> str:
    """Kernel from ``jupyter: name`` or ``jupyter: {kernelspec: {name: ...}}``; default python3."""
    jupyter = meta.get("jupyter")
    if isinstance(jupyter, str):
        return jupyter
    if isinstance(jupyter, dict):
        return str((jupyter.get("kernelspec") or {}).get("name", "python3"))
    return "python3"


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


def _fenced(text: str, attributes: str) -> str:
    """A fenced block whose backtick fence is longer than any backtick run in ``text``."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{attributes}\n{text.rstrip(chr(10))}\n{fence}"


def _text(value: Any) -> str:
    """Jupyter stores multi-line data as str or list of str."""
    return "".join(value) if isinstance(value, list) else str(value)


def _atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _rel(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when inside it, for messages."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _where(line: Line, root: Path) -> str:
    """``file:line`` of a source line, for messages."""
    return f"{_rel(line.path, root)}:{line.lineno}"


if __name__ == "__main__":
    sys.exit(main())
