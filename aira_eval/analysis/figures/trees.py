"""One search as a figure: nodes by step and depth, filled by validation score, outlined by
test score, operator as marker, picks ringed."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from aira_eval.analysis.figures.style import PAGE_WIDTH, save, style

MARKERS = {"draft": "o", "improve": "s", "debug": "^", "crossover": "D", "import": "P"}


def tree_figure(nodes: pd.DataFrame, picks: Mapping[str, str], metric: str, out: Path,
                name: str) -> dict[str, Path]:
    """``nodes``: one search; ``picks``: node id -> strategy that picked it."""
    nodes = nodes.sort_values("step")
    x, y = nodes["step"].to_numpy(float), nodes["depth"].to_numpy(float)
    pos = dict(zip(nodes["node_id"].astype(str), zip(x, y, strict=True), strict=True))
    with style() as plt:
        fig, ax = plt.subplots(figsize=(PAGE_WIDTH, 2.6))
        from matplotlib.collections import LineCollection
        from matplotlib.ticker import MaxNLocator

        edges = [(pos[str(p)], pos[child]) for child, parents in
                 zip(nodes["node_id"].astype(str), nodes["parent_ids"], strict=True)
                 for p in (list(parents) if parents is not None else []) if str(p) in pos]
        ax.add_collection(LineCollection(edges, colors="grey", linewidths=0.4, zorder=1))
        valid = nodes["valid"].to_numpy(dtype=bool)
        val, test = nodes["score_val"].to_numpy(float), nodes["score_test"].to_numpy(float)
        vmin, vmax = _limits(np.r_[val[valid], test[valid]])
        cmap_v, cmap_t = plt.get_cmap("viridis"), plt.get_cmap("magma")
        norm = plt.Normalize(vmin, vmax)
        ops = nodes["operator"].astype(str).to_numpy()
        for op in pd.unique(ops):
            m = (ops == op) & valid
            if m.any():
                ax.scatter(x[m], y[m], s=26, c=cmap_v(norm(np.nan_to_num(val[m], nan=vmin))),
                           edgecolors=cmap_t(norm(np.nan_to_num(test[m], nan=vmin))),
                           linewidths=1.3, marker=MARKERS.get(op, "P"), zorder=2, label=op)
        bad = ~valid
        if bad.any():
            ax.scatter(x[bad], y[bad], s=14, c="lightgrey", marker="x", zorder=2,
                       label="failed")
        for node, strategy in picks.items():
            if node in pos:
                ax.scatter(*pos[node], s=110, facecolors="none", edgecolors="#D55E00",
                           linewidths=1.2, zorder=3)
                ax.annotate(strategy, pos[node], xytext=(4, 6), textcoords="offset points",
                            fontsize=6, color="#D55E00")
        sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap_v)
        fig.colorbar(sm, ax=ax, label=f"validation fill ({metric})", pad=0.01)
        sm_t = plt.cm.ScalarMappable(norm=norm, cmap=cmap_t)
        fig.colorbar(sm_t, ax=ax, label=f"test outline ({metric})", pad=0.01)
        ax.set_xlabel("step")
        ax.set_ylabel("depth")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # depth is a whole number
        ax.legend(frameon=False, loc="upper left", fontsize=6, ncols=3)
        fig.tight_layout()
        return save(fig, out, name)


def _limits(values: np.ndarray) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    if not values.size:
        return 0.0, 1.0
    lo, hi = float(values.min()), float(values.max())
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)
