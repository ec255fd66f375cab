"""One matplotlib style for every figure: Agg backend, Okabe–Ito colours (colour-blind safe),
sizes readable at column width, PDF (vector) and PNG from the same figure."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: Okabe & Ito (2008), colour-blind-safe qualitative palette.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000")
COLUMN_WIDTH = 3.4  # inches: one column of a two-column paper
PAGE_WIDTH = 7.0
RC = {
    "font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "legend.fontsize": 7,
    "xtick.labelsize": 7, "ytick.labelsize": 7, "axes.spines.top": False,
    "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3, "lines.linewidth": 1.2,
    "savefig.bbox": "tight", "savefig.dpi": 200, "pdf.fonttype": 42, "ps.fonttype": 42,
}


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


@contextmanager
def style() -> Iterator[Any]:
    """``pyplot`` under the report's style (Agg backend)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    with plt.rc_context(RC):  # type: ignore[arg-type]
        yield plt


def legend_below(fig: Any, ax: Any, ncols: int, room: float = 0.14) -> None:
    """One legend for the figure, under the panels, with room made for it."""
    handles, labels = ax.get_legend_handles_labels()
    fig.tight_layout(rect=(0.0, room, 1.0, 1.0))
    fig.legend(handles, labels, loc="lower center", ncols=max(1, ncols), frameon=False,
               bbox_to_anchor=(0.5, 0.0))


def save(fig: Any, out_dir: Path, name: str) -> dict[str, Path]:
    """Write ``name.pdf`` and ``name.png`` into ``out_dir``; closes the figure."""
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for ext in ("pdf", "png"):
        path = out_dir / f"{name}.{ext}"
        fig.savefig(path, metadata={"CreationDate": None} if ext == "pdf" else None)
        files[ext] = path
    plt.close(fig)
    return files
