"""The console's pages: login by link, the dashboard, logout.

Thin like the bot's handlers: read the request, call one storage operation, render one
template. The session cookie holds a random token (its hash is in console_sessions);
every state-changing request carries the session's CSRF token in its form.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.context import Services
from messages.render import normalize_locale
from storage import console
from storage.console import LinkRefusal, Opened, Visitor
from storage.dashboard import AGE_BUCKETS, view_dashboard
from storage.models import StaffRole

HERE = Path(__file__).resolve().parent
COOKIE = "liaison_console"
# No page may be framed, and the login link in the address bar never leaves in a Referer.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
MAX_FORM_BYTES = 64 * 1024


class Console:
    """The console's request handlers over the service's shared Services."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.pages = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        base = services.settings.console_base_url or ""
        self.secure = base.startswith("https://")

    # --- rendering -----------------------------------------------------------------------

    def locale(self, visitor: Visitor | None) -> str:
        chosen = visitor.locale if visitor is not None else None
        return normalize_locale(chosen, self.services.settings.locale)

    def page(
        self,
        name: str,
        visitor: Visitor | None,
        *,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        locale = self.locale(visitor)
        renderer = self.services.renderer

        def t(key: str, **values: object) -> str:
            return renderer.label(locale, f"console.{key}", **values)

        html = self.pages.get_template(f"{name}.html").render(
            t=t,
            lang="zh-CN" if locale == "zh_CN" else "en",
            visitor=visitor,
            is_admin=visitor is not None and visitor.role is StaffRole.ADMIN,
            **context,
        )
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def message(
        self, key: str, visitor: Visitor | None = None, *, status: int = 200
    ) -> HTMLResponse:
        """A page that only says something (a refused link, logged out, …)."""
        return self.page("message", visitor, status=status, key=key)

    # --- sessions ------------------------------------------------------------------------

    async def visitor(self, request: Request) -> Visitor | None:
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        idle = self.services.settings.console_session_minutes
        async with self.services.db.session() as session:
            return await console.resume(
                session, self.services.clock.now(), token, idle=timedelta(minutes=idle)
            )

    async def form(self, request: Request) -> dict[str, str]:
        """An urlencoded form (the console posts nothing else); first value of each field."""
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return {}
        fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        return {name: values[0] for name, values in fields.items()}

    # --- pages ---------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        token = str(request.path_params["token"])
        async with self.services.db.session() as session:
            opened = await console.open_link(session, self.services.clock.now(), token)
        if isinstance(opened, LinkRefusal):
            # A forged link is "not found"; a real one spent or too old is "gone".
            status = 404 if opened is LinkRefusal.UNKNOWN else 410
            return self.message(f"link_{opened.value}", status=status)
        return self._signed_in(opened)

    def _signed_in(self, opened: Opened) -> Response:
        response = RedirectResponse("/", status_code=303, headers=SECURITY_HEADERS)
        response.set_cookie(
            COOKIE,
            opened.token,
            httponly=True,
            samesite="strict",
            secure=self.secure,
            path="/",
        )
        return response

    async def dashboard(self, request: Request) -> Response:
        visitor = await self.visitor(request)
        if visitor is None:
            return self.message("signed_out", status=401)
        now = self.services.clock.now()
        async with self.services.db.session() as session:
            figures = await view_dashboard(
                session,
                now,
                actor=visitor.actor,
                staff_id=visitor.staff_id,
                zone=self.services.settings.zone,
            )
        chart = {
            "labels": [month.period for month in figures.months],
            "percent": [month.percent for month in figures.months],
            "label": self.services.renderer.label(self.locale(visitor), "console.chart_label"),
        }
        return self.page(
            "dashboard", visitor, figures=figures, chart=chart, age_buckets=AGE_BUCKETS
        )

    async def logout(self, request: Request) -> Response:
        visitor = await self.visitor(request)
        if visitor is None:
            return self.message("signed_out", status=401)
        refused = await self.check_csrf(request, visitor)
        if refused is not None:
            return refused
        async with self.services.db.session() as session:
            await console.end(session, self.services.clock.now(), visitor)
        response = self.message("logged_out")
        response.delete_cookie(
            COOKIE, path="/", httponly=True, samesite="strict", secure=self.secure
        )
        return response

    async def check_csrf(self, request: Request, visitor: Visitor) -> Response | None:
        """None when the form carries the session's CSRF token, else the refusal page."""
        form = await self.form(request)
        if console.same_token(form.get("csrf"), visitor.csrf_token):
            return None
        return self.message("csrf_refused", visitor, status=403)


def console_app(services: Services) -> Starlette:
    """The console as an ASGI app (uvicorn serves it; tests drive it with httpx)."""
    pages = Console(services)
    routes: list[Route | Mount] = [
        Route("/", pages.dashboard, methods=["GET"]),
        Route("/login/{token}", pages.login, methods=["GET"]),
        Route("/logout", pages.logout, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(routes=routes)
