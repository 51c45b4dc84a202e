"""The monitor page's API."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["monitor"])
