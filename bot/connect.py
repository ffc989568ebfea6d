"""Reaching the Telegram Bot API at start: a network that is down (a server booting before
its network, a proxy restarting) is waited for, with a growing pause, instead of exiting."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator

from telegram.error import NetworkError
from telegram.ext import Application

log = logging.getLogger(__name__)

FIRST_PAUSE = 1.0  # seconds
LONGEST_PAUSE = 60.0  # a minute: the API is back within a minute of the network

# Waits the given seconds; False when the service is being stopped meanwhile.
Pause = Callable[[float], Awaitable[bool]]


def backoff(first: float = FIRST_PAUSE, longest: float = LONGEST_PAUSE) -> Iterator[float]:
    """1, 2, 4, … seconds, then longest for ever."""
    pause = first
    while True:
        yield pause
        pause = min(pause * 2, longest)


def pause_until(stopping: asyncio.Event) -> Pause:
    """A pause that ends early, with False, once stopping is set."""

    async def pause(seconds: float) -> bool:
        try:
            await asyncio.wait_for(stopping.wait(), seconds)
        except TimeoutError:
            return True
        return False

    return pause


async def connect(
    application: Application,  # type: ignore[type-arg]
    *,
    url: str,
    pause: Pause,
    pauses: Iterable[float] | None = None,
    hide: str = "",
) -> bool:
    """Initialise application (getMe), trying again after each network failure until it
    answers (True) or pause says the service is stopping (False).

    Other errors (a rejected token, a Bot API that answers with an error) are raised: trying
    again would not help. hide (the token) never reaches the log.
    """
    for attempt, seconds in enumerate(backoff() if pauses is None else pauses, start=1):
        try:
            await application.initialize()
        except NetworkError as error:
            reason = str(error).replace(hide, "…") if hide else str(error)
            log.warning(
                "the Telegram Bot API at %s cannot be reached (%s): trying again in %g s "
                "(attempt %d failed)",
                url,
                reason,
                seconds,
                attempt,
            )
            if not await pause(seconds):
                log.info("stopped before the Telegram Bot API could be reached")
                return False
            continue
        if attempt > 1:
            log.info("reached the Telegram Bot API at %s (attempt %d)", url, attempt)
        return True
    return False  # only for a finite pauses: backoff() never ends
