"""The console's core: sessions, CSRF, rendering, and the app made of every area's pages.

Each area of the console (dashboard, members, …) is one module beside this one with a
routes(console) list; its handlers are thin like the bot's: read the request, call one
storage operation, render one template (templates/<area>/). The session cookie holds a
random token (its hash is in console_sessions); every state-changing request is a POST
whose form carries the session's CSRF token, checked before the handler runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.console.uploads import Upload, parse_multipart, read_body
from bot.context import Services
from messages.render import format_date, format_datetime, normalize_locale
from storage import console
from storage.console import LinkRefusal, Opened, Visitor
from storage.models import StaffRole
from storage.settings import LOCALES

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


def download_headers(name: str, fallback: str | None = None) -> dict[str, str]:
    """The headers of a file to save, named name: filename* carries a name with Chinese
    (a unit's), filename its ASCII fallback for old browsers (default: name with anything
    not ASCII as "_")."""
    plain = fallback or name.encode("ascii", "replace").decode().replace("?", "_")
    disposition = f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"
    return {**SECURITY_HEADERS, "Content-Disposition": disposition}


# A notice of 8,000 Chinese characters is 72 KB url-encoded (9 bytes each), and a paste
# somewhat over the limit must still arrive to be refused with its length, not as a forgery.
MAX_FORM_BYTES = 256 * 1024
# A police station's list of 10,000 people is about 0.5 MB as XLSX and 0.7 MB as CSV.
MAX_UPLOAD_BYTES = 8 * 1024 * 1024

# The page being shown, for the language switch to come back to (set per request).
request_path: ContextVar[str] = ContextVar("request_path", default="/")

Endpoint = Callable[[Request], Awaitable[Response]]
PageHandler = Callable[[Request, Visitor], Awaitable[Response]]
Form = dict[str, str]
ActionHandler = Callable[[Request, Visitor, Form], Awaitable[Response]]
UploadHandler = Callable[[Request, Visitor, Form, dict[str, Upload]], Awaitable[Response]]


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
        # Times on every page in the district's zone, as the bot shows them.
        zone = services.settings.zone
        self.pages.filters["date"] = lambda value: format_date(value, zone)
        self.pages.filters["datetime"] = lambda value: format_datetime(value, zone)
        base = services.settings.console_base_url or ""
        self.secure = base.startswith("https://")

    # --- rendering -----------------------------------------------------------------------

    def locale(self, visitor: Visitor | None) -> str:
        chosen = visitor.locale if visitor is not None else None
        return normalize_locale(chosen, self.services.settings.locale)

    def render(
        self,
        name: str,
        visitor: Visitor | None,
        *,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        """Page templates/<name>.html. Its t("key") is a label of console.toml and
        t("area.key") one of console_<area>.toml (locales/<locale>/)."""
        locale = self.locale(visitor)
        renderer = self.services.renderer

        def t(key: str, **values: object) -> str:
            feature = f"console_{key}" if "." in key else f"console.{key}"
            return renderer.label(locale, feature, **values)

        html = self.pages.get_template(f"{name}.html").render(
            t=t,
            lang="zh-CN" if locale == "zh_CN" else "en",
            visitor=visitor,
            locale=locale,
            path=request_path.get(),
            is_admin=visitor is not None and visitor.role is StaffRole.ADMIN,
            **context,
        )
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def message(
        self, key: str, visitor: Visitor | None = None, *, status: int = 200
    ) -> HTMLResponse:
        """A page that only says something (a refused link, logged out, …)."""
        return self.render("message", visitor, status=status, key=key)

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

    # --- the two kinds of handler ---------------------------------------------------------

    def page(self, handler: PageHandler) -> Endpoint:
        """A GET handler for signed-in staff; everyone else gets the sign-in page (401)."""

        async def endpoint(request: Request) -> Response:
            visitor = await self.visitor(request)
            if visitor is None:
                return self.message("signed_out", status=401)
            query = f"?{request.url.query}" if request.url.query else ""
            request_path.set(f"{request.url.path}{query}")
            return await handler(request, visitor)

        return endpoint

    def action(self, handler: ActionHandler) -> Endpoint:
        """A POST handler for signed-in staff whose form carries the session's CSRF token;
        the handler gets the form. A change without the token is refused (403)."""

        async def endpoint(request: Request) -> Response:
            visitor = await self.visitor(request)
            if visitor is None:
                return self.message("signed_out", status=401)
            request_path.set("/")
            form = await self.form(request)
            if not console.same_token(form.get("csrf"), visitor.csrf_token):
                return self.message("csrf_refused", visitor, status=403)
            return await handler(request, visitor, form)

        return endpoint

    def upload(self, handler: UploadHandler) -> Endpoint:
        """A POST handler like action's for a form that sends files (multipart/form-data):
        the handler gets the fields and the files. A body over MAX_UPLOAD_BYTES is refused
        (413) unread, before anything is done; one without the CSRF token like action's."""

        async def endpoint(request: Request) -> Response:
            visitor = await self.visitor(request)
            if visitor is None:
                return self.message("signed_out", status=401)
            request_path.set("/")
            body = await read_body(request, MAX_UPLOAD_BYTES)
            if body is None:
                return self.message("upload_too_large", visitor, status=413)
            content_type = request.headers.get("content-type", "")
            if content_type.lower().startswith("multipart/form-data"):
                form, files = await parse_multipart(content_type, body)
            else:
                fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
                form, files = {name: values[0] for name, values in fields.items()}, {}
            if not console.same_token(form.get("csrf"), visitor.csrf_token):
                return self.message("csrf_refused", visitor, status=403)
            return await handler(request, visitor, form, files)

        return endpoint

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

    async def choose_locale(self, request: Request, visitor: Visitor, form: Form) -> Response:
        """Switch the language; back to the page the switch was pressed on."""
        locale = form.get("locale", "")
        if locale in LOCALES:
            async with self.services.db.session() as session:
                await console.choose_locale(session, self.services.clock.now(), visitor, locale)
        back = form.get("back", "/")
        # Only a path of this site: never a redirect elsewhere.
        if not back.startswith("/") or back.startswith("//"):
            back = "/"
        return RedirectResponse(back, status_code=303, headers=SECURITY_HEADERS)

    async def logout(self, request: Request, visitor: Visitor, form: Form) -> Response:
        async with self.services.db.session() as session:
            await console.end(session, self.services.clock.now(), visitor)
        response = self.message("logged_out")
        response.delete_cookie(
            COOKIE, path="/", httponly=True, samesite="strict", secure=self.secure
        )
        return response


class Area(Protocol):
    """One module of the console's pages."""

    def routes(self, console: Console) -> list[Route]: ...
