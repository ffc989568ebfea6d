"""The console as one ASGI app: the way in and out, the static files, and every area."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.console import (
    activities,
    audit,
    certificates,
    dashboard,
    ideas,
    letters,
    members,
    notices,
    ratings,
    reports,
    requests,
    study,
    year_report,
)
from bot.console.core import HERE, Area, Console
from bot.context import Services

AREAS: tuple[Area, ...] = (
    dashboard,
    members,
    requests,
    certificates,
    ideas,
    notices,
    activities,
    study,
    letters,
    ratings,
    reports,
    audit,
    # /reports/year: linked from the reports area's index.
    year_report,
)


def console_app(services: Services) -> Starlette:
    """The console (uvicorn serves it in the bot's event loop; tests drive it with httpx)."""
    console = Console(services)
    routes: list[Route | Mount] = [
        Route("/login/{token}", console.login, methods=["GET"]),
        Route("/logout", console.action(console.logout), methods=["POST"]),
        Route("/lang", console.action(console.choose_locale), methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    for area in AREAS:
        routes.extend(area.routes(console))
    return Starlette(routes=routes)
