"""What every stage of the renderer shares: the error type, YAML reading, Jupyter text."""

from __future__ import annotations

import re
from typing import Any

import yaml

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")  # terminal colour codes in tracebacks


class RenderError(Exception):
    """A render failed; the message says where (file:line) and why."""


def read_yaml(text: str, where: str) -> dict[str, Any]:
    """Parse a YAML mapping (empty text gives ``{}``); errors name ``where``."""
    try:
        value = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as err:
        raise RenderError(f"{where}: invalid YAML: {err}") from None
    if not isinstance(value, dict):
        raise RenderError(f"{where}: expected a YAML mapping, got {type(value).__name__}")
    return value


def jupyter_text(value: Any) -> str:
    """Jupyter stores multi-line data as str or list of str."""
    return "".join(value) if isinstance(value, list) else str(value)
