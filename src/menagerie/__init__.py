"""Menagerie: one self-hosted AI agent server behind five published agent APIs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("menagerie")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
