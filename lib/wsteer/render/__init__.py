"""Render the paper: ``quarto render`` where Quarto is installed, else an offline renderer.

Both renderers read the same ``_quarto.yml`` and ``.qmd`` sources and write the same files:
a document's path relative to the project root is kept inside ``output-dir`` (with
``output-dir: _paper``, ``paper/index.qmd`` becomes ``_paper/paper/index.html``). The offline
renderer also writes the executed markdown beside the HTML (``index.offline.md``) and
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

Modules: ``project`` (``_quarto.yml``, render list, output paths, merged options), ``source``
(front matter, includes, cells), ``execute`` (Jupyter kernel, inline expressions, state dirs),
``assemble`` (outputs -> markdown, numbering, cross-refs), ``pandoc`` (markdown -> HTML),
``offline`` (that pipeline for one document), ``quarto`` (the Quarto CLI), ``__main__`` (CLI).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .common import RenderError
from .execute import format_inline, local_state_dirs
from .offline import render_offline
from .project import Project, load_project, output_path
from .quarto import INSTALL_QUARTO, render_with_quarto
from .source import CodeCell, MarkdownText, Verbatim, parse_segments, read_source

__all__ = [
    "RENDERERS", "CodeCell", "MarkdownText", "Project", "RenderError", "RenderResult",
    "Renderer", "Verbatim", "format_inline", "load_project", "local_state_dirs", "output_path",
    "parse_segments", "read_source", "render", "render_offline",
]

Renderer = Literal["auto", "quarto", "offline"]
RENDERERS: tuple[str, ...] = ("auto", "quarto", "offline")


@dataclass(frozen=True)
class RenderResult:
    """Outcome of :func:`render`: the (first) HTML file written and the renderer used."""

    html_path: Path
    renderer: str
    html_paths: tuple[Path, ...] = ()  # every HTML file written, in render-list order


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
            paths = render_with_quarto(project, quarto or "quarto", timeout)
        else:
            paths = tuple(render_offline(project, qmd, timeout) for qmd in project.targets)
    return RenderResult(html_path=paths[0], renderer=chosen, html_paths=paths)
