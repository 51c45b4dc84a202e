"""Every path under a surface's prefix reaches that surface, one holding an encoded newline
too: it is answered in the surface's own envelope, never the root's."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize(
    ("path", "shape"),
    [
        ("/console/api/memories/a%0Ab", {"error", "code", "details", "request_id"}),
        ("/gary/api/tasks/a%0Ab", {"error", "code", "details", "timestamp", "request_id"}),
        ("/podplay/api/nothing/a%0Ab", {"success", "error", "error_code", "request_id"}),
    ],
)
async def test_an_encoded_newline_stays_inside_its_surface(
    client: httpx.AsyncClient, path: str, shape: set[str]
) -> None:
    answer = await client.get(path)
    assert answer.status_code in (401, 404, 405), answer.text
    assert shape <= set(answer.json()), answer.text


async def test_the_root_names_its_errors_in_core_words(client: httpx.AsyncClient) -> None:
    answer = await client.get("/nowhere")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "ROUTE_NOT_FOUND"
