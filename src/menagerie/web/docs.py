"""`/docs`: Swagger UI served from the `swagger-ui-bundle` package, with a spec per dialect."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs/assets"


def _page(title: str, specs: Sequence[tuple[str, str]]) -> str:
    urls = json.dumps([{"name": name, "url": url} for name, url in specs])
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
<link rel="icon" href="{ASSETS}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script src="{ASSETS}/swagger-ui-standalone-preset.js"></script>
<script>
window.ui = SwaggerUIBundle({{
  urls: {urls},
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout",
}});
</script>
</body>
</html>"""


def install_docs(app: FastAPI, specs: Sequence[tuple[str, str]]) -> None:
    """`specs` are (name, openapi URL) pairs, shown in the page's spec selector."""
    router = APIRouter(include_in_schema=False)
    page = _page("Menagerie API", specs)

    @router.get("/docs", response_class=HTMLResponse)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page)

    app.include_router(router)
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")
