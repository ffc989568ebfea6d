"""Serving the console: uvicorn in the running event loop, beside the bot and the dispatcher."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Generator

import uvicorn

from bot.console.app import console_app
from bot.context import Services
from storage.settings import onebot_address

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the bot (or the terminal) owns SIGINT and SIGTERM
    and stops the console with everything else."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _listen(address: str) -> socket.socket:
    host, port = onebot_address(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)


@contextlib.asynccontextmanager
async def running_console(services: Services) -> AsyncIterator[str | None]:
    """Serve the console until the block ends; yields its address (None when it is off, or
    when its port cannot be had: the bot runs on without it, and the log says why)."""
    settings = services.settings
    if settings.console_listen is None:
        yield None
        return
    try:
        sock = _listen(settings.console_listen)
    except OSError as error:
        log.error(
            "web console not started: cannot listen on %s (%s)", settings.console_listen, error
        )
        yield None
        return
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(
        console_app(services),
        lifespan="off",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=2,
        server_header=False,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="console")
    shown = f"[{host}]" if ":" in host else host
    address = f"http://{shown}:{port}"
    log.info("web console at %s (links point to %s)", address, settings.console_base_url)
    try:
        yield address
    finally:
        server.should_exit = True
        await task
        sock.close()
