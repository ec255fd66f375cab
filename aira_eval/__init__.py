"""aira-eval: reproducible research on AI research agents for machine learning."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("aira-eval")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
