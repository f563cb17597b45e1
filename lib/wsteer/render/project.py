"""The Quarto project: ``_quarto.yml``, its render list, output paths and merged options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .common import RenderError, read_yaml


@dataclass(frozen=True)
class Project:
    """What the renderers need from ``_quarto.yml``."""

    root: Path
    targets: tuple[Path, ...]  # absolute .qmd paths inside root, from project.render
    output_dir: Path | None  # absolute; None writes next to each source, as Quarto does
    execute_dir: str  # "file" or "project"
    metadata: dict[str, Any]  # document options: every top-level key except `project`


def load_project(root: Path) -> Project:
    """Read ``root/_quarto.yml``: render list, output-dir, execute-dir, document options."""
    config_path = root / "_quarto.yml"
    if not config_path.is_file():
        raise RenderError(f"no _quarto.yml in {root}: not a Quarto project")
    config = read_yaml(config_path.read_text(encoding="utf-8"), str(config_path))
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
    outside = [str(p) for p in targets if not p.is_relative_to(root)]
    if outside:
        raise RenderError(f"_quarto.yml: render targets outside the project {root}: "
                          f"{', '.join(outside)}")
    return targets


def output_path(project: Project, qmd: Path) -> Path:
    """Where Quarto writes the HTML of ``qmd``.

    Quarto keeps a document's path relative to the project root inside ``output-dir``
    (``paper/index.qmd`` -> ``<output-dir>/paper/index.html``), or writes next to the
    source when there is no output-dir.
    """
    relative = qmd.relative_to(project.root).with_suffix(".html")
    return (project.output_dir or project.root) / relative


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge two option mappings; nested mappings merge, other values in ``override`` win."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def html_options(meta: dict[str, Any]) -> dict[str, Any]:
    """Options for HTML output: top-level keys, overridden by those under ``format: html:``."""
    fmt = meta.get("format")
    html = fmt.get("html") if isinstance(fmt, dict) else None
    return deep_merge(meta, html) if isinstance(html, dict) else dict(meta)


def kernel_name(meta: dict[str, Any]) -> str:
    """Kernel from ``jupyter: name`` or ``jupyter: {kernelspec: {name: ...}}``; default python3."""
    jupyter = meta.get("jupyter")
    if isinstance(jupyter, str):
        return jupyter
    if isinstance(jupyter, dict):
        return str((jupyter.get("kernelspec") or {}).get("name", "python3"))
    return "python3"
