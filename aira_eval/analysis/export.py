"""Every number of every table and figure as CSV and Parquet (``data/``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from aira_eval.analysis.sections import Section


def _frames(section: Section) -> dict[str, pd.DataFrame]:
    frames = {t.name: t.data for t in section.tables}
    frames.update(section.data)
    return frames


def export_data(sections: Sequence[Section], out: Path) -> dict[str, Path]:
    """Write ``<name>.csv`` and ``<name>.parquet`` per table and figure dataset."""
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for section in sections:
        for name, frame in _frames(section).items():
            clean = frame.copy()
            clean.attrs = {}
            for col in clean.columns:  # lists and mixed objects as text, Parquet-safe
                if clean[col].dtype == object:
                    clean[col] = clean[col].map(lambda v: v if v is None or isinstance(
                        v, str | float | int) else str(v))
            clean.to_csv(out / f"{name}.csv", index=False)
            try:
                clean.to_parquet(out / f"{name}.parquet", index=False)
            except (ValueError, TypeError):
                clean.astype(str).to_parquet(out / f"{name}.parquet", index=False)
            files[f"data:{name}"] = out / f"{name}.csv"
    return files
