"""A Hugging Face Inference Endpoint: resumed on wake, paused on sleep, through huggingface_hub.

huggingface_hub is synchronous, so every call runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

from huggingface_hub import HfApi, InferenceEndpoint

from menagerie.core.llm.endpoints.base import EndpointBackend, EndpointFailure
from menagerie.core.llm.endpoints.models import EndpointState
from menagerie.settings import EndpointSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

# Hugging Face's endpoint states, in the words the manager uses
STATES: dict[str, EndpointState] = {
    "running": "running",
    "paused": "sleeping",
    "scaledToZero": "sleeping",
    "pending": "starting",
    "initializing": "starting",
    "updating": "starting",
    "failed": "failed",
    "updateFailed": "failed",
}


class HuggingFaceBackend(EndpointBackend):
    kind = "huggingface"
    stops_with_server = False  # shared and billed by the hour: shutdown is not idleness

    def __init__(
        self, settings: EndpointSettings, *, token: str | None, poll_interval_s: float = 5.0
    ) -> None:
        super().__init__()
        self.settings = settings
        self.endpoint_name = settings.hf_endpoint or settings.name
        self.poll_interval_s = poll_interval_s
        self._token = token
        self._endpoint: InferenceEndpoint | None = None

    @property
    def url(self) -> str | None:
        if self.settings.base_url:
            return self.settings.base_url
        if self._endpoint is not None and self._endpoint.url:
            # TGI and vLLM images serve the OpenAI routes under /v1
            return self._endpoint.url.rstrip("/") + "/v1"
        return None

    @property
    def hf_status(self) -> str | None:
        if self._endpoint is None:
            return None
        status = self._endpoint.status  # the raw string today; the SDK types it as an enum
        return str(getattr(status, "value", status))

    async def _call(self, what: str, function: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(function)
        # the SDK raises HTTP, transport and payload errors of many types; all mean the same here
        except Exception as exc:
            raise EndpointFailure(
                f"Hugging Face endpoint {self.endpoint_name!r}: {what} failed: {exc}"
            ) from exc

    async def _get(self) -> InferenceEndpoint:
        if self._endpoint is None:
            api = HfApi(token=self._token)
            self._endpoint = await self._call(
                "lookup",
                lambda: api.get_inference_endpoint(
                    self.endpoint_name, namespace=self.settings.hf_namespace, token=self._token
                ),
            )
        return self._endpoint

    def _state(self) -> EndpointState:
        return STATES.get(self.hf_status or "", "starting")

    async def probe(self) -> EndpointState | None:
        endpoint = await self._get()
        await self._call("fetch", endpoint.fetch)
        return self._state()

    async def start(self, timeout_s: float) -> str:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        endpoint = await self._get()
        await self._call("resume", lambda: endpoint.resume(running_ok=True))
        while True:
            state = self._state()
            if state == "running":
                url = self.url
                if url is None:
                    raise EndpointFailure(f"endpoint {self.endpoint_name!r} runs without a URL")
                return url
            if state == "failed":
                raise EndpointFailure(
                    f"Hugging Face endpoint {self.endpoint_name!r} is {self.hf_status}"
                )
            if loop.time() >= deadline:
                raise EndpointFailure(
                    f"Hugging Face endpoint {self.endpoint_name!r} not running within "
                    f"{timeout_s:g}s (still {self.hf_status})"
                )
            await asyncio.sleep(min(self.poll_interval_s, max(deadline - loop.time(), 0.01)))
            await self._call("fetch", endpoint.fetch)

    async def stop(self) -> None:
        endpoint = self._endpoint
        # never found (the lookup failed) means nothing of ours to pause
        if endpoint is None or self.hf_status == "paused":
            return
        await self._call("pause", endpoint.pause)
        log.info("Hugging Face endpoint %s paused", self.endpoint_name)
