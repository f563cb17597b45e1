"""Tests for wsteer.render: the offline renderer of the Quarto sources.

Each test builds a tiny Quarto project in tmp_path. Two tests start a Jupyter kernel
(~2-3 s each); the others fail before any kernel starts.
"""

from __future__ import annotations

import csv
import os
import re
import textwrap
from html import unescape
from pathlib import Path

import pytest

from wsteer import render as r

QUARTO_YML = """\
project:
  type: default
  output-dir: _out
  execute-dir: project
  render:
    - doc/main.qmd
format:
  html:
    toc: true
jupyter: python3
execute:
  echo: false
"""

MAIN_QMD = """\
---
title: "Demo: a tiny paper"
author:
  - name: Ada Lovelace
abstract: Numbers from a CSV, with $x^2$ math.
---

## Data

{{< include _part.qmd >}}
"""

PART_QMD = '''\
```{python}
import pandas as pd
df = pd.read_csv("data/values.csv")
mean_value = df["value"].mean()
```

The mean is `{python} f"{mean_value:.4f}"` over `{python} len(df)` rows; see @fig-demo
and [-@tbl-demo].

```{python}
#| label: fig-demo
#| fig-cap: "Values by *row*"
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(3, 2))
ax.plot(df["value"])
plt.show()
```

```{python}
#| label: tbl-demo
#| tbl-cap: The raw values
df
```

```{python}
#| echo: true
print("printed " + "output")
```

```{python}
#| include: false
print("HIDDEN-" + "OUTPUT")
```

```{python}
#| warning: false
import warnings
warnings.warn("WARN-" + "MARKER")
```

```{python}
#| error: true
raise KeyError("SHOWN-" + "ERROR")
```

```{python}
#| output: asis
print("**ASIS-" + "BOLD**")
```

```{python}
from IPython.display import Markdown
Markdown("*md-" + "out*, see @fig-demo")
```

```{python}
#| eval: false
raise SystemExit("never run")
```

```python
# not executed: `{python} 1 / 0` and @fig-missing stay literal
```
'''

VALUES = [1.25, 2.5, 4.125, 7.0]


def make_project(root: Path, part: str = PART_QMD, main: str = MAIN_QMD) -> Path:
    """Write a tiny Quarto project (config, CSV, main document with one include)."""
    (root / "doc").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "_quarto.yml").write_text(QUARTO_YML)
    (root / "doc" / "main.qmd").write_text(main)
    (root / "doc" / "_part.qmd").write_text(part)
    with open(root / "data" / "values.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["value"])
        writer.writerows([v] for v in VALUES)
    return root


def expected_mean(root: Path) -> str:
    """The mean of the CSV column, computed without pandas or the renderer."""
    with open(root / "data" / "values.csv", newline="") as f:
        values = [float(row["value"]) for row in csv.DictReader(f)]
    return f"{sum(values) / len(values):.4f}"


def test_offline_render_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = make_project(tmp_path / "proj")
    result = r.render(root, renderer="offline", timeout=120)

    assert result.renderer == "offline"
    assert result.html_path == root / "_out" / "doc" / "main.html"  # where Quarto writes it
    assert "using the offline renderer" in capsys.readouterr().out
    html = result.html_path.read_text()
    text = unescape(re.sub(r"<[^>]+>", "", html))  # visible text, tags removed

    assert re.search(r'<img [^>]*src="data:image/png;base64,[A-Za-z0-9+/]{100}', html)
    assert 'id="fig-demo"' in html and "Figure 1: Values by <em>row</em>" in html
    assert 'id="tbl-demo"' in html and "Table 1: The raw values" in html
    assert '<a href="#fig-demo">Figure 1</a>' in html
    assert '<a href="#tbl-demo">1</a>' in html  # [-@tbl-demo] shows the number only
    assert f"The mean is {expected_mean(root)} over {len(VALUES)} rows" in " ".join(text.split())
    assert "<table" in html and "dataframe" in html  # pandas HTML passed through
    assert 'print("printed " + "output")\n' in text and "\nprinted output\n" in text
    assert "read_csv" not in html  # echo: false from _quarto.yml
    assert "HIDDEN-OUTPUT" not in text and "WARN-MARKER" not in text
    assert "KeyError" in text and "SHOWN-ERROR" in text  # error: true shows the traceback
    assert "<strong>ASIS-BOLD</strong>" in html
    assert '<em>md-out</em>, see <a href="#fig-demo">Figure 1</a>' in html
    assert "<math" in html and "Ada Lovelace" in html and 'id="TOC"' in html
    assert "`{python} 1 / 0`" in (root / "_out" / "doc" / "main.offline.md").read_text()
    assert not list((root / "_out").rglob(".*.tmp"))


def test_failing_cell_fails_the_render_with_source_and_traceback(tmp_path: Path) -> None:
    part = '```{python}\n#| label: boom\nvalue = 41\nraise ValueError(f"boom {value + 1}")\n```\n'
    root = make_project(tmp_path / "proj", part=part)
    with pytest.raises(r.RenderError) as info:
        r.render(root, renderer="offline", timeout=120)
    message = str(info.value)
    assert "doc/_part.qmd:1 (cell 'boom') raised ValueError: boom 42" in message
    assert 'raise ValueError(f"boom {value + 1}")' in message  # the cell source
    assert "Traceback" in message or "----> " in message or "Cell In" in message
    assert not (root / "_out" / "doc" / "main.html").exists()


def test_missing_include_is_a_clear_error(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj", main="# Title\n\n{{< include _nope.qmd >}}\n")
    with pytest.raises(r.RenderError, match=r"doc/main.qmd:3: included file not found: _nope.qmd"):
        r.render(root, renderer="offline")


def test_include_cycle_is_a_clear_error(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj", part="{{< include main.qmd >}}\n")
    with pytest.raises(r.RenderError, match="include cycle"):
        r.render(root, renderer="offline")


def test_unknown_cross_reference_is_an_error(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj", part="See @fig-nowhere.\n")
    with pytest.raises(r.RenderError, match="unknown cross-reference @fig-nowhere"):
        r.render(root, renderer="offline")


def test_bad_renderer_and_missing_quarto(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_project(tmp_path / "proj")
    with pytest.raises(ValueError, match="unknown renderer 'latex'"):
        r.render(root, renderer="latex")  # type: ignore[arg-type]
    monkeypatch.setattr(r.shutil, "which", lambda name: None)
    with pytest.raises(r.RenderError, match="pip install quarto-cli"):
        r.render(root, renderer="quarto")


def test_missing_project_and_document(tmp_path: Path) -> None:
    with pytest.raises(r.RenderError, match="no _quarto.yml"):
        r.render(tmp_path, renderer="offline")
    (tmp_path / "_quarto.yml").write_text("project:\n  render: [paper/gone.qmd]\n")
    with pytest.raises(r.RenderError, match="'paper/gone.qmd' matches no file"):
        r.render(tmp_path, renderer="offline")


def test_parse_cells_options_and_fences(tmp_path: Path) -> None:
    qmd = tmp_path / "a.qmd"
    qmd.write_text(textwrap.dedent("""\
        ---
        title: T
        ---
        Text `{python} x`.

        ````markdown
        ```{python}
        not_a_cell()
        ```
        ````

        ```{python}
        #| label: fig-a
        #| fig-cap: "A: caption"
        #| echo: true
        x = 1
        ```
        """))
    meta, lines = r.read_source(qmd, tmp_path)
    segments = r.parse_segments(lines, tmp_path)
    assert meta == {"title": "T"}
    kinds = [type(s).__name__ for s in segments]
    assert kinds == ["MarkdownText", "Verbatim", "MarkdownText", "CodeCell"]
    cell = segments[-1]
    assert isinstance(cell, r.CodeCell)
    assert cell.options == {"label": "fig-a", "fig-cap": "A: caption", "echo": True}
    assert cell.source == "x = 1" and cell.origin == "a.qmd:12"


def test_inline_values_follow_quarto() -> None:
    assert r.format_inline({"text/plain": "3.5"}) == "3.5"
    assert r.format_inline({"text/plain": "'2.50 *'"}) == r"2\.50 \*"
    assert r.format_inline({"text/markdown": "**b**", "text/plain": "x"}) == "**b**"


def test_output_path_keeps_the_source_folder_as_quarto_does(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj").resolve()
    qmd = root / "doc" / "main.qmd"
    assert r.output_path(r.load_project(root), qmd) == root / "_out" / "doc" / "main.html"
    (root / "_quarto.yml").write_text("project:\n  render: [doc/main.qmd]\n")  # no output-dir
    assert r.output_path(r.load_project(root), qmd) == root / "doc" / "main.html"


def test_state_dirs_are_local_and_restored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MPLCONFIGDIR", raising=False)
    with r.local_state_dirs(tmp_path):
        assert os.environ["MPLCONFIGDIR"] == str(tmp_path / "cache" / "jupyter" / "matplotlib")
    assert "MPLCONFIGDIR" not in os.environ


def test_auto_uses_quarto_when_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture) -> None:
    root = make_project(tmp_path / "proj")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "quarto"  # stands in for Quarto: writes where Quarto writes
    fake.write_text("#!/bin/sh\nmkdir -p _out/doc && echo '<html>q</html>' > _out/doc/main.html\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    result = r.render(root, renderer="auto")

    assert result.renderer == "quarto"
    assert result.html_path == root / "_out" / "doc" / "main.html"
    assert f"quarto found at {fake}" in capsys.readouterr().out
