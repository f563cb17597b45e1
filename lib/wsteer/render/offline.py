"""The offline renderer for one document: parse, execute, assemble markdown, run pandoc."""

from __future__ import annotations

from pathlib import Path

from wsteer.io import atomic_path

from .assemble import assemble_markdown, number_floats
from .execute import execute_document
from .pandoc import metadata_block, run_pandoc
from .project import Project, deep_merge, html_options, kernel_name, output_path
from .source import CELL_DEFAULTS, CodeCell, parse_segments, read_source


def render_offline(project: Project, qmd: Path, timeout: int = 600) -> Path:
    """Render one ``.qmd`` offline and return the HTML file written.

    The HTML goes where Quarto writes it (:func:`~wsteer.render.project.output_path`, e.g.
    ``<output-dir>/paper/index.html`` for ``paper/index.qmd``); the executed markdown goes
    beside it as ``<stem>.offline.md``.
    """
    front_matter, lines = read_source(qmd, project.root)
    meta = deep_merge(project.metadata, front_matter)
    options = html_options(meta)
    execute = options.get("execute") or {}
    segments = parse_segments(lines, project.root)
    cells = [s for s in segments if isinstance(s, CodeCell)]
    for cell in cells:
        cell.options = {**CELL_DEFAULTS,
                        **{k: v for k, v in execute.items() if k in CELL_DEFAULTS},
                        **cell.options}
    refs = number_floats(cells)
    cwd = project.root if project.execute_dir == "project" else qmd.parent
    figure = (options.get("fig-width", 7), options.get("fig-height", 5),
              options.get("fig-dpi", 96))  # Quarto's HTML defaults
    execute_document(segments, kernel_name(meta), cwd, timeout, figure)
    body = assemble_markdown(segments, refs)
    markdown = metadata_block(meta, qmd) + "\n\n" + body + "\n"
    html_path = output_path(project, qmd)
    with atomic_path(html_path.with_suffix(".offline.md")) as tmp:
        tmp.write_text(markdown, encoding="utf-8")
    run_pandoc(markdown, html_path, options, [qmd.parent, project.root], timeout)
    return html_path
