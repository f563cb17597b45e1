"""What the signal screen says, as text and tables, from `signal.screen_summary` (one row per configuration).

The paper's tbl-signal and Reading sentences, and the README's numbers, come from here:
`python -m wsteer.signal_report [model ...]` prints, per model, the table of every screened configuration
(Markdown), the verdicts and the data-scale trend, from the committed tables under results/signal/<model>/.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd

from .config import parent_name
from .signal import is_data_knob, load_screen, scale_estimate, screen_summary
from .timing import median_stage_minutes

STUDY = "study"  # configs/experiments/study.yaml: the recipe the later studies start from


def short_knob(knob: str, width: int = 34) -> str:
    """A knob's text for a legend or table: module lists collapsed (`['q_proj', 'k_proj']` → q, k), cut to `width`."""
    text = re.sub(r"\[([^\]]*)\]", lambda m: ", ".join(x.strip(" '\"").removesuffix("_proj") for x in m[1].split(",")), knob)
    return text if len(text) <= width else text[:width - 1] + "…"


def screen_table(summary: pd.DataFrame, full: bool = True) -> pd.DataFrame:
    """One display row per configuration (strings): what it changes, examples per side, mean (min, max)
    seed-pair cosine of dW, the largest null cosine it is judged against, z and permutation p, the held-out and
    training persona-gap shifts at α = +1 and the minutes per seed of the stages it computed. `full` adds the
    random controls' mean cosine and the side decomposition (cos of Δ+ across seeds, persona share ‖dW‖ / ‖M‖)."""
    rows = []
    for r in summary.itertuples():
        row = {"config": r.config + (" (placebo)" if r.placebo else ""), "changes": short_knob(r.knob) or "—",
               "examples/side": r.examples_per_side,
               "cos dW": f"{r.cos_dW_mean:.4f} ({r.cos_dW_min:.4f}, {r.cos_dW_max:.4f})",
               "null max": "" if r.placebo or pd.isna(r.cos_null_max) else f"{r.cos_null_max:.4f}",
               "z": "" if pd.isna(r.separation) else f"{r.separation:.2f}",
               "p": "" if pd.isna(r.p_perm) else f"{r.p_perm:.3f}"}
        if full:
            side = {k: getattr(r, f"side_{k}", float("nan")) for k in ("pos_across", "persona_share")}
            row |= {"cos random": f"{r.cos_random_mean:.5f}",
                    "cos Δ+ across seeds": "" if pd.isna(side["pos_across"]) else f"{side['pos_across']:.3f}",
                    "persona share": "" if pd.isna(side["persona_share"]) else f"{side['persona_share']:.3f}"}
        rows.append(row | {"gap shift held-out": f"{r.gap_shift_heldout:+.3f}",
                           "gap shift train": f"{r.gap_shift_train:+.3f}",
                           "min/seed": f"{r.computed_minutes_per_seed:.0f}"})
    return pd.DataFrame(rows)


def signal_verdict(model_label: str, summary: pd.DataFrame) -> str:
    """One plain sentence per model: is every seed-pair cosine of each real configuration above every null pair
    (its placebo twin's seed pairs, the real × placebo pairs, and the random pairs)? No claim without a placebo."""
    parts = []
    for r in summary[~summary.placebo.astype(bool)].itertuples():
        if r.null_config is None or pd.isna(r.null_config):
            parts.append(f"{r.config}: cosine {r.cos_dW_mean:.4f} against {r.cos_random_mean:.5f} for random "
                         f"directions; no placebo screen yet, so the training-noise floor is unknown")
            continue
        floor = max(r.cos_random_max, r.cos_null_max)
        against = (f"{r.n_null} null pairs of its placebo twin" if r.null_is_twin
                   else f"placebo of another recipe ({r.null_config}, {r.n_null} pairs; no twin screened yet)")
        stats = (f" (z = {r.separation:.2f}, permutation p = {r.p_perm:.3f})"
                 if r.null_is_twin and not pd.isna(r.p_perm) else "")
        if r.cos_dW_min > floor:
            parts.append(f"{r.config}: every seed pair ({r.cos_dW_min:.4f} to {r.cos_dW_max:.4f}) lies above the "
                         f"{against} and the random pairs (up to {floor:.4f}){stats}")
        else:
            parts.append(f"{r.config}: seed pairs ({r.cos_dW_min:.4f} to {r.cos_dW_max:.4f}) overlap the {against} "
                         f"(up to {r.cos_null_max:.4f}): no direction beyond training noise{stats}")
    return f"On {model_label}, " + "; ".join(parts) + "." if parts else ""


def side_sentence(model_label: str, summary: pd.DataFrame) -> str:
    """Where dW sits inside the updates, per real configuration with side measures: how well θ+ − θ0 and the mean
    update reproduce across seeds, against the persona share ‖dW‖ / ‖M‖ and dW's own seed-to-seed cosine."""
    if "side_pos_across" not in summary:
        return ""
    parts = [f"{r.config}: θ+ − θ0 has seed-to-seed cosine {r.side_pos_across:.2f} and the mean update "
             f"{r.side_mean_across:.2f}, while dW, {r.side_persona_share:.2f} of the mean update's norm, has "
             f"{r.cos_dW_mean:.4f}" for r in summary.itertuples() if not pd.isna(r.side_pos_across)]
    return f"On {model_label}, " + "; ".join(parts) + "." if parts else ""


def scale_sentence(model_label: str, summary: pd.DataFrame) -> str:
    """The data-scale trend: mean seed-pair cosine and held-out gap shift of the real configurations that change
    only the amount of data, each next to its null (largest null cosine, placebo twin's held-out shift)."""
    real = summary[~summary.placebo.astype(bool) & summary.knob.fillna("").map(is_data_knob)]
    if len(real) < 2:
        return ""
    by_name = summary.set_index("config")
    parts = []
    for r in real.sort_values("examples_per_side").itertuples():
        twin = by_name.loc[r.null_config] if r.null_is_twin else None
        null_gap = f", placebo {twin.gap_shift_heldout:+.3f}" if twin is not None else ""
        parts.append(f"{r.examples_per_side} examples per side ({r.config}): cosine {r.cos_dW_mean:.4f} "
                     f"(null up to {r.cos_null_max:.4f}{'' if r.null_is_twin else ', placebo of another recipe'}), "
                     f"held-out gap shift {r.gap_shift_heldout:+.3f}{null_gap}")
    estimate = scale_estimate(summary)
    trend = ""
    if estimate is not None:
        pts = ", ".join(f"z = {z:.2f} at {n}" for n, z in zip(estimate.examples, estimate.separations))
        trend = (f" The separation from the twin null (mean real minus mean null cosine, in null SDs) is {pts} "
                 f"examples per side, a power {estimate.power:.2f} of the data")
        trend += (f"; if that power held, the seed pairs would sit z = {estimate.z_target:.0f} above their null at about "
                  f"{estimate.examples_needed:,.0f} examples per side (an extrapolation from {len(estimate.examples)} "
                  f"points, not a measurement)." if estimate.power > 0 else
                  "; it does not grow with the data, so no scale can be read off this trend.")
        z = estimate.separations
        if estimate.power > 0 and len(z) > 2 and z[-1] <= z[-2]:
            trend += (f" The last step did not rise (z = {z[-2]:.2f} at {estimate.examples[-2]} → {z[-1]:.2f} at "
                      f"{estimate.examples[-1]}), so the fitted power overstates the recent trend.")
    return f"On {model_label}, against the number of training questions: " + "; ".join(parts) + "." + trend


def study_sentence(model: str, summary: pd.DataFrame, study: str | Path = STUDY, label: str | None = None) -> str:
    """Which screened recipe the `study` config extends, its separation z and rank among the real recipes judged
    against their own placebo twin on `model`, and its cost per seed: the screen stages as measured for that recipe,
    plus the Daily Dilemmas evaluation as measured in the default runs (same rows)."""
    recipe, name = parent_name(study), Path(study).stem
    if recipe is None:
        raise ValueError(f"config {name} must extend the screened recipe it adopts")
    label = label or model
    rows = summary[~summary.placebo.astype(bool) & summary.null_is_twin.astype(bool)]
    if recipe not in set(rows.config):
        return f"On {label}, the recipe of `{name}` ({recipe}) has not been screened against its placebo twin."
    r = rows.set_index("config").loc[recipe]
    rank = int((rows.separation > r.separation).sum()) + 1
    evaluate = median_stage_minutes("default", model, "evaluate")
    cost = f"{r.computed_minutes_per_seed:.0f} min per seed for generation, training and the in-distribution check"
    if evaluate is not None:
        cost += f", plus {evaluate:.0f} min for the Daily Dilemmas evaluation"
    return (f"On {label}, the default for later studies is `{name}` (configs/experiments/{name}.yaml), the recipe of "
            f"{recipe}: z = {r.separation:.2f}, rank {rank} of {len(rows)} recipes judged against their own twin; "
            f"{cost} on this machine.")


SPLIT_NAMES = {"heldout": "held-out", "train": "training"}


def contrast_sentence(model_label: str, summary: pd.DataFrame) -> str:
    """The trait the training data carries (`evaluate.contrast_summary`): per split, the generating pair's contrast
    and the transfer through another persona pair, with its CI."""
    s = summary.set_index(["split", "measure"])
    parts = []
    for split in dict.fromkeys(summary.split):
        c, t = s.loc[(split, "contrast")], s.loc[(split, "transfer")]
        parts.append(f"on {SPLIT_NAMES.get(split, split)} questions the generating persona pair tells a "
                     f"completion's side apart by {c.estimate:.3f} [{c.ci_low:.3f}, {c.ci_high:.3f}] nats per token, and another pair by "
                     f"{t.estimate:+.3f} [{t.ci_low:+.3f}, {t.ci_high:+.3f}], {t.estimate / c.estimate:.0%} of it "
                     f"({int(t.n_questions)} question × seed units)")
    return f"On {model_label}, " + "; ".join(parts) + "."


README_BEGIN, README_END = "<!-- SIGNAL-TABLES:BEGIN -->", "<!-- SIGNAL-TABLES:END -->"
MODEL_TITLES = {"smollm2-135m": "SmolLM2-135M", "qwen2.5-coder-0.5b": "Qwen2.5-Coder-0.5B"}


def readme_tables(models: list[str]) -> str:
    """The README's block of screen tables, one per model (Markdown; `screen_table(full=False)`)."""
    parts = []
    for model in models:
        table = screen_table(screen_summary(load_screen(model)), full=False)
        parts.append(f"{MODEL_TITLES.get(model, model)} (`python -m wsteer.signal_report {model}`):\n\n"
                     + table.to_markdown(index=False, disable_numparse=True))
    return "\n\n".join(parts)


def splice(text: str, block: str, begin: str = README_BEGIN, end: str = README_END) -> str:
    """`text` with everything between the `begin` and `end` marker lines replaced by `block`."""
    if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
        raise ValueError(f"expected one {begin} line followed by one {end} line")
    head, rest = text.split(begin)
    return f"{head}{begin}\n{block}\n{end}{rest.split(end, 1)[1]}"


def main(argv: list[str] | None = None) -> None:
    """Print, per model, the screen table (Markdown), the verdicts, the scale trend and the study default;
    `--readme PATH` instead rewrites the block between the SIGNAL-TABLES markers of PATH with the tables."""
    args = list(argv if argv is not None else sys.argv[1:])
    readme = None
    if "--readme" in args:
        i = args.index("--readme")
        readme = Path(args[i + 1])
        del args[i:i + 2]
    models = args or ["smollm2-135m"]
    if readme is not None:
        readme.write_text(splice(readme.read_text(), readme_tables(models)))
        return
    for model in models:
        summary = screen_summary(load_screen(model))
        print(f"## {model}\n")
        print(screen_table(summary, full=False).to_markdown(index=False, disable_numparse=True))
        print()
        for text in (signal_verdict(model, summary), scale_sentence(model, summary), study_sentence(model, summary)):
            if text:
                print(text, "\n")


if __name__ == "__main__":
    main()
