"""Where things live: the repository root, committed data, and the git-ignored cache.

REPO_ROOT/data/results/<model>/<adapter>/seed<k>/*.csv   committed result tables
$WSTEER_CACHE (default REPO_ROOT/cache)                  converted models, adapters, dW tensors
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT: Path = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """Committed inputs and result tables (`$WSTEER_DATA`, default `<repo>/data`)."""
    return Path(os.environ.get("WSTEER_DATA", REPO_ROOT / "data"))


def results_dir() -> Path:
    """Result tables (`$WSTEER_RESULTS`, default `<data>/results`)."""
    return Path(os.environ.get("WSTEER_RESULTS", data_dir() / "results"))


def cache_dir() -> Path:
    """Git-ignored heavy artefacts (`$WSTEER_CACHE`, default `<repo>/cache`)."""
    return Path(os.environ.get("WSTEER_CACHE", REPO_ROOT / "cache"))


def configs_dir() -> Path:
    return Path(os.environ.get("WSTEER_CONFIGS", REPO_ROOT / "configs"))
