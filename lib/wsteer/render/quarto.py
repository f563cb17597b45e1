"""Render with the real Quarto CLI (``quarto render``) and find the HTML it wrote."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .common import RenderError
from .project import Project, output_path

INSTALL_QUARTO = (
    "Quarto is not on PATH. Install it with `pip install quarto-cli` (needs network access: "
    "the package downloads the Quarto binary) or with the installer from "
    "https://quarto.org/docs/get-started/, or render offline with --renderer offline."
)


def render_with_quarto(project: Project, quarto: str, timeout: int) -> tuple[Path, ...]:
    """Run ``quarto render`` in the project root; return the HTML files it wrote."""
    try:
        proc = subprocess.run([quarto, "render"], cwd=project.root, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        raise RenderError(f"`quarto render` did not finish within {timeout} s") from err
    if proc.returncode != 0:
        raise RenderError(f"`quarto render` failed with exit code {proc.returncode}")
    paths = []
    for qmd in project.targets:
        expected = output_path(project, qmd)
        flat = (project.output_dir or project.root) / expected.name  # in case Quarto flattens
        candidates = [expected, flat]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise RenderError(f"quarto render succeeded but wrote none of {candidates}")
        paths.append(found)
    return tuple(paths)
