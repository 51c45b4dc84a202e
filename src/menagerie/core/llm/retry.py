"""Opening a provider's stream, retried with exponential backoff while the failure is worth
retrying (429, 5xx, timeouts, lost connections). A retry is only possible before the first
event: the stream counts as open once that event has arrived.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from menagerie.core.llm.errors import ProviderError, ProviderUnavailable
from menagerie.core.llm.models import ChatRequest, StreamEvent
from menagerie.core.llm.providers.base import Provider


async def open_stream(
    provider: Provider, request: ChatRequest, *, retries: int, backoff_s: float
) -> tuple[StreamEvent, AsyncIterator[StreamEvent]]:
    """Start a stream and wait for its first event, retrying what is worth retrying."""
    try:  # the first try needs no retry machinery: most calls succeed at it
        return await first_event(provider, request)
    except ProviderError as exc:
        if not exc.retryable or retries <= 0:
            raise
        failed: ProviderError | None = exc
    retrying = AsyncRetrying(
        stop=stop_after_attempt(retries + 1),
        wait=wait_exponential_jitter(initial=backoff_s, max=backoff_s * 8, jitter=backoff_s),
        retry=retry_if_exception(lambda e: isinstance(e, ProviderError) and e.retryable),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            if failed is not None:  # tenacity's first attempt is the one that just failed
                error, failed = failed, None
                raise error
            return await first_event(provider, request)
    raise AssertionError("unreachable: tenacity re-raises the last failure")


async def first_event(
    provider: Provider, request: ChatRequest
) -> tuple[StreamEvent, AsyncIterator[StreamEvent]]:
    events = aiter(provider.stream(request))
    try:
        first = await anext(events)
    except StopAsyncIteration:
        raise ProviderUnavailable(
            "the provider closed the stream without an answer", provider=provider.name
        ) from None
    except BaseException:
        with contextlib.suppress(Exception):
            await events.aclose()  # type: ignore[attr-defined]
        raise
    return first, events
