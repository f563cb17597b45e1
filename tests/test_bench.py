"""The speed harness runs end to end on the tiny model and reports every target's row."""
from __future__ import annotations

import pandas as pd

from wsteer.bench import run_bench


def test_bench_reports_all_targets(tiny_model_dir, tmp_path):
    out = tmp_path / "bench.csv"
    df = run_bench(str(tiny_model_dir), n_rows=6, sweep_rows=4, alphas=(-1.0, 1.0), gen_batches=(1, 2), out=out)
    assert out.exists() and len(pd.read_csv(out)) == len(df)
    prof = pd.read_csv(tmp_path / "bench_profile.csv")
    assert prof.op.iloc[0] == "ALL matmul ops" and 0 < prof.share.iloc[0] < 1
    metrics = " | ".join(df.metric)
    for needle in ("scoring rows/s", "tokens computed per row", "FLOP/s on computed tokens", "max |score fast − naive|",
                   "sweep of 2 α variants", "in-distribution log-probs", "bfloat16", "generation", "LoRA step", "peak RSS"):
        assert needle in metrics, needle
    err = df.set_index("metric").loc["max |score fast − naive|", "fast"]
    assert err <= 1e-4
    gap = df[df.metric.str.startswith("in-distribution log-probs")].iloc[0]
    assert gap.naive > 0 and gap.fast > 0
    assert df.set_index("metric").loc["max |ℓ fast − naive| (in-distribution)", "fast"] <= 1e-4
    tok = df.set_index("metric").loc["tokens computed per row"]
    assert tok.fast < tok.naive
