"""`vercel` deploys: the build output uploaded inline to Vercel's deployments API
(`POST /v13/deployments`) with the tenant's OAuth access token.

Not exercised by the tests (they have no network); the missing-connection path is.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from menagerie.core.errors import Unavailable

API = "https://api.vercel.com"
TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class Submitted:
    id: str
    url: str
    inspector_url: str | None
    state: str  # Vercel's readyState: QUEUED, BUILDING, READY, ERROR …


async def deploy(
    token: str,
    *,
    name: str,
    files: Mapping[str, bytes],
    production: bool,
    environment: Mapping[str, str],
    api: str = API,
) -> Submitted:
    body: dict[str, Any] = {
        "name": name,
        "files": [
            {"file": path, "data": base64.b64encode(data).decode(), "encoding": "base64"}
            for path, data in files.items()
        ],
        "projectSettings": {"framework": None},  # prebuilt static output
        "env": dict(environment),
        "build": {"env": dict(environment)},
    }
    if production:
        body["target"] = "production"
    try:
        async with httpx.AsyncClient(base_url=api, timeout=TIMEOUT_S) as http:
            response = await http.post(
                "/v13/deployments",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
                params={"skipAutoDetectionConfirmation": "1"},
            )
    except httpx.HTTPError as error:
        raise Unavailable(
            f"Vercel could not be reached: {type(error).__name__}",
            service="vercel",
            reason="VERCEL_UNREACHABLE",
        ) from None
    if response.status_code >= 400:
        try:
            message = response.json().get("error", {}).get("message") or response.text[:200]
        except ValueError:
            message = response.text[:200]
        raise Unavailable(
            f"Vercel refused the deployment ({response.status_code}): {message}",
            service="vercel",
            reason="VERCEL_DEPLOY_FAILED",
        )
    data = response.json()
    return Submitted(
        id=str(data.get("id", "")),
        url=f"https://{data.get('url', '')}",
        inspector_url=data.get("inspectorUrl"),
        state=str(data.get("readyState") or "QUEUED"),
    )
