"""Streams to clients: SSE encoding, socket.io and WebSocket endpoints, fed by core's events."""
