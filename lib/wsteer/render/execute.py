"""Run a document's cells and inline expressions in one Jupyter kernel (via nbclient)."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Any, Iterator

from .common import ANSI, RenderError, jupyter_text
from .source import CELL_DEFAULTS, CodeCell, MarkdownText, Segment

_INLINE_EXPR = re.compile(r"(^|[^`])`\{python\}[ \t]([^`]+)`", re.M)
_MD_ESCAPE = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~^$@,])")

# Folders (under the project root, git-ignored) for state that Jupyter, IPython and
# matplotlib would otherwise write to $HOME.
_STATE_DIRS = {
    "IPYTHONDIR": "ipython",
    "JUPYTER_RUNTIME_DIR": "runtime",
    "JUPYTER_DATA_DIR": "data",
    "JUPYTER_CONFIG_DIR": "config",
    "MPLCONFIGDIR": "matplotlib",
}

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


class KernelSession:
    """One Jupyter kernel that runs a document's cells and inline expressions in order."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def run(self, cell: CodeCell, store_history: bool = True) -> None:
        """Execute ``cell`` and store its outputs; a raised error fails unless ``error: true``."""
        import nbformat
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

        nb_cell = nbformat.v4.new_code_cell(source=cell.source)
        if cell.options["error"]:
            nb_cell.metadata["tags"] = ["raises-exception"]
        self._client.nb.cells.append(nb_cell)
        try:
            index = len(self._client.nb.cells) - 1
            self._client.execute_cell(nb_cell, index, execution_count=index + 1,
                                      store_history=store_history)
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
                trace = ANSI.sub("", "\n".join(result.get("traceback", [])))
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
        session.run(CodeCell(source=_KERNEL_SETUP % figure, options=dict(CELL_DEFAULTS),
                             origin="<wsteer.render kernel setup>"), store_history=False)
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
    values = iter(format_inline(b) for b in session.evaluate(expressions, segment.origin))
    return _INLINE_EXPR.sub(lambda m: m.group(1) + next(values), segment.text)


def format_inline(bundle: dict[str, Any]) -> str:
    """Format an inline value as Quarto does (markdown, raw HTML, or escaped plain text)."""
    if "text/markdown" in bundle:
        return jupyter_text(bundle["text/markdown"])
    if "text/html" in bundle:
        return f"`{jupyter_text(bundle['text/html'])}`{{=html}}"
    plain = jupyter_text(bundle.get("text/plain", ""))
    if len(plain) >= 2 and plain[0] == plain[-1] and plain[0] in "'\"":
        return _MD_ESCAPE.sub(r"\\\1", plain[1:-1])
    return plain


def _cell_failure(cell: CodeCell, outputs: list[Any]) -> str:
    """Error message for a failed cell: location, exception, source, traceback."""
    error = next((o for o in outputs if o.get("output_type") == "error"), {})
    trace = ANSI.sub("", "\n".join(error.get("traceback", [])))
    return (f"{cell.describe()} raised {error.get('ename', 'an error')}: {error.get('evalue', '')}"
            f"\n--- cell source ---\n{cell.source}\n--- traceback ---\n{trace}")
