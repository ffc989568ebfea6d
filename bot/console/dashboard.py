"""The dashboard: the district (or the liaison's groups) at a glance."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.console.core import Console
from storage.console import Visitor
from storage.dashboard import AGE_BUCKETS, view_dashboard


def routes(console: Console) -> list[Route]:
    async def dashboard(request: Request, visitor: Visitor) -> Response:
        services = console.services
        async with services.db.session() as session:
            figures = await view_dashboard(
                session,
                services.clock.now(),
                actor=visitor.actor,
                staff_id=visitor.staff_id,
                zone=services.settings.zone,
            )
        chart = {
            "labels": [month.period for month in figures.months],
            "percent": [month.percent for month in figures.months],
            "label": services.renderer.label(console.locale(visitor), "console.chart_label"),
        }
        return console.render(
            "dashboard", visitor, figures=figures, chart=chart, age_buckets=AGE_BUCKETS
        )

    return [Route("/", console.page(dashboard), methods=["GET"])]
