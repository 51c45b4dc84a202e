"""The OpenAI-compatible API's routes (/v1) in the matrix."""

from __future__ import annotations

from tests.reliability.authz.model import USER, Fixed, Row, row_spec

r = row_spec("openai", "/v1", {"model_id": Fixed("menagerie-offline")})

ROWS: list[Row] = [
    r("GET /models", USER),
    r("GET /models/{model_id}", USER),
    r("POST /chat/completions", USER),
]
