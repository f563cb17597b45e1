"""Wall time per stage of an experiment's runs: `python -m wsteer.timing <config>`.

Reads every seed's timings.csv (stage seconds, from the notebooks) and benchmark.tsv (Snakemake: job wall
seconds and max RSS) under data/results/<config>/, prints them, and writes data/results/<config>/stage_times.csv.
"""
from __future__ import annotations

import sys

import pandas as pd

from .io import write_table
from .paths import results_dir


def stage_times(config: str) -> pd.DataFrame:
    """Rows: model, adapter, seed, stage, seconds, cached; plus stage 'job' rows with max_rss_mb from Snakemake."""
    root = results_dir() / config
    rows = []
    for path in sorted(root.glob("*/*/seed*/timings.csv")):
        model, adapter = path.parts[-4], path.parts[-3]
        t = pd.read_csv(path)
        rows.append(t.assign(model=model, adapter=adapter)[["model", "adapter", "seed", "stage", "seconds", "cached"]])
    for path in sorted(root.glob("*/*/seed*/benchmark.tsv")):
        model, adapter, seed = path.parts[-4], path.parts[-3], int(path.parts[-2].removeprefix("seed"))
        b = pd.read_csv(path, sep="\t")
        rows.append(pd.DataFrame({"model": model, "adapter": adapter, "seed": seed, "stage": "last job run (snakemake)",
                                  "seconds": b["s"], "cached": False, "max_rss_mb": b["max_rss"]}))
    if not rows:
        raise FileNotFoundError(f"no timings under {root}: run the workflow first")
    return pd.concat(rows, ignore_index=True)


def median_stage_minutes(config: str, model: str, stage: str) -> float | None:
    """Median over seeds of a stage's computed (not cached) wall time in minutes, from the committed
    results/<config>/stage_times.csv; None if that stage was never computed for `model`."""
    path = results_dir() / config / "stage_times.csv"
    if not path.exists():
        return None
    t = pd.read_csv(path)
    t = t[(t.model == model) & (t.stage == stage) & ~t.cached.astype(bool)]
    return float(t.seconds.median() / 60) if len(t) else None


def main(argv: list[str] | None = None) -> None:
    config = (argv or sys.argv[1:] or ["default"])[0]
    t = stage_times(config)
    write_table(t, results_dir() / config / "stage_times.csv")
    fresh = t[~t.cached.astype(bool)]
    table = fresh.groupby(["model", "stage"]).seconds.agg(["count", "mean", "sum"]).round(1)
    print(f"wall time per stage ({config}; seconds; count = seeds):")
    print(table.to_string())


if __name__ == "__main__":
    main()
