"""The repository's copy of the published references is the published text, unchanged."""

from __future__ import annotations

import pytest
from tests.contract.seeds import COPY, PUBLISHED


@pytest.mark.skipif(not PUBLISHED.is_dir(), reason="no published references beside the checkout")
def test_the_copy_matches_the_published_references() -> None:
    published = {p.name: p.read_bytes() for p in PUBLISHED.glob("*.txt")}
    copied = {p.name: p.read_bytes() for p in COPY.glob("*.txt")}
    assert published, "the published folder holds no references"
    assert copied == published, "refresh tests/contract/references/ from ../shared/seeds/"
