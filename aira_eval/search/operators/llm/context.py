"""What every prompt says about the task's data and the environment the script runs in."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

# Packages a solution script typically uses; the prompt lists those installed, with versions.
PACKAGES = ("numpy", "pandas", "scikit-learn", "scipy", "statsmodels", "lightgbm", "xgboost",
            "catboost", "torch", "transformers", "nltk", "Pillow", "opencv-python")
MAX_FILES = 30
PREVIEW_ROWS = 5
PREVIEW_FILES = 3
PREVIEW_LINE_CHARS = 300


@dataclass(frozen=True)
class DataPreview:
    """The public files (capped list with sizes) and the first rows of the main tables."""

    files: tuple[str, ...]
    more_files: int
    previews: tuple[tuple[str, str], ...]


@cache
def installed_packages() -> str:
    """``numpy 2.1.0, pandas 2.2.3, ...`` for the packages of :data:`PACKAGES` installed here."""
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def _size(nbytes: int) -> str:
    size = float(nbytes)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"  # pragma: no cover


def _head(path: Path, rows: int) -> str:
    lines: list[str] = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if len(line) > PREVIEW_LINE_CHARS:
                line = line[:PREVIEW_LINE_CHARS] + " ..."
            lines.append(line)
            if len(lines) > rows:  # header + rows
                break
    return "\n".join(lines)


@cache
def data_preview(public_dir: str, main_files: tuple[str, ...] = ()) -> DataPreview:
    """Files of ``public_dir`` (sorted, at most :data:`MAX_FILES`) and the head of up to
    :data:`PREVIEW_FILES` CSV tables, ``main_files`` (train, test, sample submission) first."""
    root = Path(public_dir)
    paths = sorted(p for p in root.rglob("*") if p.is_file())
    files = tuple(f"{p.relative_to(root).as_posix()} ({_size(p.stat().st_size)})"
                  for p in paths[:MAX_FILES])
    csvs = [p for p in paths if p.suffix.lower() in (".csv", ".tsv")]
    order = {name: i for i, name in enumerate(main_files)}
    csvs.sort(key=lambda p: (order.get(p.relative_to(root).as_posix(), len(order)), str(p)))
    previews = tuple((p.relative_to(root).as_posix(), _head(p, PREVIEW_ROWS))
                     for p in csvs[:PREVIEW_FILES])
    return DataPreview(files, max(0, len(paths) - MAX_FILES), previews)
