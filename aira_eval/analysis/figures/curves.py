"""Line figures with bootstrap bands: search dynamics, optimism, top-k, seeds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from aira_eval.analysis.figures.style import (
    COLUMN_WIDTH,
    PAGE_WIDTH,
    colour,
    legend_below,
    save,
    style,
)

DASHES = {"val_of_pick": "--", "test_of_pick": "-", "oracle": ":", "topk": "-",
          "random-k": "--"}
NAMES = {"val_of_pick": "validation of best-val pick", "test_of_pick": "test of best-val pick",
         "oracle": "oracle (best test so far)", "topk": "top-k", "random-k": "random-k (exact)"}


def _band(ax: object, x: pd.Series, block: pd.DataFrame, c: str, ls: str, label: str) -> None:
    ax.fill_between(x, block["lo"], block["hi"], color=c, alpha=0.15, linewidth=0)  # type: ignore[attr-defined]
    ax.plot(x, block["mean"], color=c, linestyle=ls, label=label)  # type: ignore[attr-defined]


def frame_groups(frame: pd.DataFrame) -> int:
    return max(1, int(frame["group"].nunique())) if len(frame) else 1


def dynamics_figure(steps: pd.DataFrame, clock: pd.DataFrame, y_label: str, out: Path,
                    name: str = "dynamics") -> dict[str, Path]:
    """Validation of the best-val pick, its test score and the oracle, over nodes explored
    (and over wall time where known), per group."""
    panels = [(steps, "nodes explored")] + ([(clock, "wall time (s)")] if len(clock) else [])
    with style() as plt:
        n_groups = frame_groups(steps)
        fig, axes = plt.subplots(1, len(panels), figsize=(PAGE_WIDTH, 2.4 + 0.3 * n_groups),
                                 squeeze=False)
        for ax, (frame, xlabel) in zip(axes[0], panels, strict=True):
            for i, (group, g) in enumerate(frame.groupby("group", sort=False)):
                for series in ("val_of_pick", "test_of_pick", "oracle"):
                    block = g[g["series"] == series]
                    _band(ax, block["x"], block, colour(i), DASHES[series],
                          f"{group}: {NAMES[series]}")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(y_label)
        legend_below(fig, axes[0][0], 3, room=0.3 * n_groups / (2.4 + 0.3 * n_groups) + 0.02)
        return save(fig, out, name)


def optimism_figure(steps: pd.DataFrame, y_label: str, out: Path,
                    name: str = "optimism") -> dict[str, Path]:
    """Optimism of the best-val pick (validation − test, oriented) vs nodes explored."""
    with style() as plt:
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 2.4))
        for i, (group, g) in enumerate(steps.groupby("group", sort=False)):
            block = g[g["series"] == "optimism"]
            _band(ax, block["x"], block, colour(i), "-", str(group))
        ax.axhline(0.0, color="black", linewidth=0.6)
        ax.set_xlabel("nodes explored")
        ax.set_ylabel(f"optimism ({y_label})")
        ax.legend(frameon=False)
        fig.tight_layout()
        return save(fig, out, name)


def topk_figure(frame: pd.DataFrame, y_label: str, out: Path,
                name: str = "topk") -> dict[str, Path]:
    """Top-k vs the exact random-k baseline, k = 1…10, per group."""
    with style() as plt:
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 2.4))
        for i, (group, g) in enumerate(frame.groupby("group", sort=False)):
            for curve in ("topk", "random-k"):
                block = g[g["curve"] == curve]
                _band(ax, block["k"], block, colour(i), DASHES[curve], f"{group}: {NAMES[curve]}")
        ax.set_xlabel("k (submissions per search)")
        ax.set_ylabel(y_label)
        ax.set_xticks(range(1, int(frame["k"].max()) + 1))
        ax.legend(frameon=False)
        fig.tight_layout()
        return save(fig, out, name)


def seeds_figure(frame: pd.DataFrame, metric: str, actual: dict[str, int], out: Path,
                 name: str = "seeds") -> dict[str, Path]:
    """Interval half-width vs number of seeds per task, per group; the study's own seed
    count marked."""
    with style() as plt:
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 2.4))
        for i, (group, g) in enumerate(frame.groupby("group", sort=False)):
            ax.plot(g["n_seeds"], g["half_width"], marker="o", color=colour(i), label=str(group))
            n = actual.get(str(group))
            if n:
                ax.axvline(n, color=colour(i), linestyle=":", linewidth=0.8)
        ax.set_xlabel("seeds per task")
        ax.set_ylabel(f"95% interval half-width ({metric})")
        ax.set_xticks(sorted(frame["n_seeds"].unique()))
        ax.legend(frameon=False)
        fig.tight_layout()
        return save(fig, out, name)
