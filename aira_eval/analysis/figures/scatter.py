"""Validation vs test score of every node, one panel per task, best-val picks marked."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from aira_eval.analysis.figures.style import PAGE_WIDTH, colour, legend_below, save, style

MAX_PANELS = 12
MAX_POINTS = 2000  # per task and group (a deterministic sample beyond)


def scatter_figure(nodes: pd.DataFrame, groups: Mapping[str, str], picked: set[str],
                   metrics: Mapping[str, str], out: Path, name: str = "val_vs_test"
                   ) -> dict[str, Path]:
    """Panels of validation (x) vs test (y) per task; ``picked``: node ids to mark."""
    ok = nodes["valid"].to_numpy(dtype=bool) & np.isfinite(nodes["score_val"].to_numpy(float)) \
        & np.isfinite(nodes["score_test"].to_numpy(float))
    data = nodes.loc[ok, ["task", "search_id", "node_id", "score_val", "score_test"]].copy()
    data["group"] = data["search_id"].astype(str).map(groups).fillna("all")
    tasks = list(pd.unique(data["task"].astype(str)))[:MAX_PANELS]
    order = list(pd.unique(data["group"]))
    cols = min(4, max(1, len(tasks)))
    rows = math.ceil(len(tasks) / cols)
    with style() as plt:
        fig, axes = plt.subplots(rows, cols, figsize=(PAGE_WIDTH, 1.9 * rows + 0.4),
                                 squeeze=False)
        for ax, task in zip(axes.flat, tasks, strict=False):
            part = data[data["task"].astype(str) == task]
            for g, block in part.groupby("group", sort=False):
                i = order.index(g)
                if len(block) > MAX_POINTS:
                    block = block.sample(MAX_POINTS, random_state=0)
                ax.scatter(block["score_val"], block["score_test"], s=4, alpha=0.4,
                           color=colour(i), linewidths=0, label=str(g), rasterized=True)
            picks = part[part["node_id"].astype(str).isin(picked)]
            ax.scatter(picks["score_val"], picks["score_test"], s=18, facecolors="none",
                       edgecolors="black", linewidths=0.7, label="best-val pick")
            lo = float(min(part["score_val"].min(), part["score_test"].min()))
            hi = float(max(part["score_val"].max(), part["score_test"].max()))
            ax.plot([lo, hi], [lo, hi], color="grey", linewidth=0.6, linestyle="--")
            ax.set_title(task, fontsize=7)
            metric = metrics.get(task, "score")
            ax.set_xlabel(f"validation ({metric})")
            ax.set_ylabel(f"test ({metric})")
        for ax in list(axes.flat)[len(tasks):]:
            ax.set_visible(False)
        legend_below(fig, axes[0][0], len(order) + 1, room=0.3 / (1.9 * rows + 0.4))
        return save(fig, out, name)
