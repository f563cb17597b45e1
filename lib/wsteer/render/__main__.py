"""CLI: ``python -m wsteer.render [--renderer auto|quarto|offline] [--project .]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wsteer.render import RENDERERS, RenderError, render


def main(argv: list[str] | None = None) -> int:
    """Render the project; print the HTML files written. Returns the exit status."""
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


if __name__ == "__main__":
    sys.exit(main())
