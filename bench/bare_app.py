"""The baseline: a bare Starlette app answering the same liveness probe as Menagerie.

No middleware, no mounts, no FastAPI: one route returning the same JSON body as
`GET /gary/health/live` on the real server.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

LIVE_PATH = "/gary/health/live"


async def live(_: Request) -> JSONResponse:
    return JSONResponse({"status": "alive"})


def create_app() -> Starlette:
    """Factory, so that uvicorn starts it the same way as `menagerie.app:create_app`."""
    return Starlette(routes=[Route(LIVE_PATH, live, methods=["GET"])])
