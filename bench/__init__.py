"""Benchmarks for Menagerie, run with `make bench` (`python -m bench`).

Each benchmark module exposes `TITLE` and `run() -> rich.table.Table`; `bench.__main__` runs
them in turn. Every number is measured against a baseline taken in the same run, and nothing
here asserts a timing.
"""
