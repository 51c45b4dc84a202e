"""The socket.io server (python-socketio, ASGI).

With Redis configured its manager is Redis's, so that an emit reaches clients connected to
any replica. The hub (hub.py) routes its namespaces to the dialects' surfaces; the app mounts
it at `/socket.io` and at each such dialect's `<prefix>/socket.io`.
"""

from __future__ import annotations

import socketio


def build_server(redis_url: str | None) -> socketio.AsyncServer:
    manager = socketio.AsyncRedisManager(redis_url) if redis_url else None
    return socketio.AsyncServer(
        async_mode="asgi",
        client_manager=manager,
        # browsers reach it from the console's own origin; API clients send no Origin at all
        cors_allowed_origins=[],
        # every namespace reaches the hub, which serves or refuses it with a reason
        namespaces="*",
        logger=False,
        engineio_logger=False,
    )


def asgi_app(server: socketio.AsyncServer) -> socketio.ASGIApp:
    """The server as an ASGI app taking every request routed to it (mounted by the app)."""
    return socketio.ASGIApp(server, socketio_path=None)
