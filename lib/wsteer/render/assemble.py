"""Executed segments -> pandoc markdown: cell outputs, figure/table numbering, cross-refs."""

from __future__ import annotations

import re
from typing import Any, Callable

from .common import ANSI, RenderError, jupyter_text
from .source import CodeCell, MarkdownText, Segment, Verbatim

_FLOAT_NAMES = {"fig": "Figure", "tbl": "Table"}
_CODE_SPAN = re.compile(r"(`+).+?\1", re.S)
_LABEL = r"(?:fig|tbl)-[A-Za-z0-9_-]*[A-Za-z0-9_]"
_BRACKET_REF = re.compile(rf"\[(-?)@({_LABEL})\]")
_BARE_REF = re.compile(rf"(?<![\w@.])@({_LABEL})")


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
            same_stream = previous.get("name") == output.get("name")
            if previous.get("output_type") == "stream" and same_stream:
                visible[-1] = {**previous, "text": previous["text"] + output["text"]}
                continue
        visible.append(output)
    return visible


def _format_output(output: dict[str, Any], asis: bool, prose: Callable[[str], str]) -> str:
    """Markdown for one Jupyter output: image, markdown, raw HTML or preformatted text."""
    kind = output.get("output_type")
    if kind == "stream":
        text = ANSI.sub("", jupyter_text(output.get("text", "")))
        stream_class = f"{{.cell-output .cell-output-{output.get('name')}}}"
        return text if asis else _fenced(text, stream_class)
    if kind == "error":  # only reached with `error: true`
        trace = ANSI.sub("", "\n".join(output.get("traceback", [])))
        return _fenced(trace, "{.cell-output .cell-output-error}")
    data = output.get("data", {})
    for mime in ("image/png", "image/jpeg"):
        if mime in data:
            return f"![](data:{mime};base64,{''.join(jupyter_text(data[mime]).split())})"
    if "image/svg+xml" in data:
        return _fenced(jupyter_text(data["image/svg+xml"]), "{=html}")
    if "text/markdown" in data:
        return prose(jupyter_text(data["text/markdown"]))
    if "text/html" in data:
        return _fenced(jupyter_text(data["text/html"]), "{=html}")
    if "text/plain" in data:
        text = jupyter_text(data["text/plain"])
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
    name = "figure" if kind == "fig" else "table"
    cap = f"::: {{.{name}-caption}}\n{caption}\n:::" if caption else ""
    ordered = [body, cap] if kind == "fig" else [cap, body]  # Quarto: table captions on top
    inner = "\n\n".join(p for p in ordered if p)
    return f":::: {{{ident}.quarto-{name}}}\n{inner}\n::::"


def _fenced(text: str, attributes: str) -> str:
    """A fenced block whose backtick fence is longer than any backtick run in ``text``."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{attributes}\n{text.rstrip(chr(10))}\n{fence}"
