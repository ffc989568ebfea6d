"""The dashboard: the district (or the liaison's groups) at a glance."""

from __future__ import annotations

import functools

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.console.china_map import china_map
from bot.console.core import Console
from storage.console import Visitor
from storage.dashboard import AGE_BUCKETS, view_dashboard
from storage.models import DeliveryStatus
from storage.study import STUDY_WINDOW

DELIVERY_STATES = tuple(state.value for state in DeliveryStatus)

# The bar chart's provinces and the table's cities: the most members first.
PROVINCES_CHARTED = 15
CITIES_LISTED = 15


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
        label = functools.partial(services.renderer.label, console.locale(visitor))
        chart = {
            "labels": [month.period for month in figures.months],
            "percent": [month.percent for month in figures.months],
            "label": label("console.chart_label"),
        }
        provinces = figures.provinces()
        shown = list(provinces.items())[:PROVINCES_CHARTED]
        province_chart = {
            "labels": [name for name, _ in shown],
            "members": [count for _, count in shown],
            "label": label("console.members_column"),
        }
        # Dots for the cities the region index can place (a typed town it cannot is only
        # in its province's shade).
        cities = []
        for place in figures.places:
            point = place.city and services.regions.city_point(place.province, place.city)
            if place.city and point:
                cities.append((place.city, *point, place.members))
        return console.render(
            "dashboard",
            visitor,
            figures=figures,
            chart=chart,
            province_chart=province_chart,
            map=china_map(provinces, cities),
            cities=[place for place in figures.places if place.city][:CITIES_LISTED],
            age_buckets=AGE_BUCKETS,
            in_flight=figures.notices_in_flight,
            states=DELIVERY_STATES,
            study=figures.study,
            study_days=STUDY_WINDOW.days,
        )

    return [Route("/", console.page(dashboard), methods=["GET"])]
