"""The console's aiohttp application: sessions, security headers, login, CSRF, templates."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import get_session
from aiohttp_session import setup as setup_sessions
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet

from infoline.config import ConsoleSettings
from infoline.console import csrf, labels
from infoline.console.i18n import Words, best_language, language_name
from infoline.console.throttle import LoginThrottle
from infoline.core.i18n import Catalogs
from infoline.handoff.cases import CaseDesk
from infoline.handoff.consultants import get as get_consultant
from infoline.handoff.records import Consultant
from infoline.store.db import Database

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
COOKIE = "infoline_console"
USER_KEY = "consultant"
# Paths anyone may open: the login form and the stylesheet and script it needs.
PUBLIC = ("/login", "/static/")
# A strict policy: scripts and styles only from our own files (no inline code), no
# framing, forms only to ourselves. Case text is escaped anyway; this is the second wall.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Context:
    """What the console's views need, built by the composition root."""

    db: Database
    desk: CaseDesk
    settings: ConsoleSettings
    catalogs: Catalogs
    timezone: ZoneInfo  # the office's: dates are shown and days counted in it
    default_language: str  # the console's language before anyone logs in


CONTEXT = web.AppKey("context", Context)
THROTTLE = web.AppKey("throttle", LoginThrottle)
STOPPING = web.AppKey("stopping", asyncio.Event)
USER = web.RequestKey("user", Consultant)  # the logged-in consultant


def context_of(request: web.Request) -> Context:
    """Return the console's context."""
    return request.app[CONTEXT]


def user_of(request: web.Request) -> Consultant:
    """Return the consultant logged in on this request (the middleware made sure of one)."""
    return request[USER]


def require_supervisor(request: web.Request) -> Consultant:
    """Return the logged-in supervisor; refuse consultants with 403."""
    user = user_of(request)
    if not user.is_supervisor:
        raise web.HTTPForbidden(text="Only supervisors may open this page.")
    return user


def words_for(request: web.Request) -> Words:
    """Return the console's words in the reader's language."""
    context = context_of(request)
    user: Consultant | None = request.get(USER)
    if user is not None:
        language = user.console_language
    else:
        language = best_language(
            request.headers.get("Accept-Language", ""), context.default_language
        )
    return Words(context.catalogs, language, context.timezone)


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Let only logged-in, enabled consultants past; check the CSRF token on every POST."""
    if request.method == "POST":
        await csrf.verify(request)
    if request.path.startswith(PUBLIC):
        return await handler(request)
    session = await get_session(request)
    consultant_id = session.get(USER_KEY)
    user = None
    if isinstance(consultant_id, int):
        user = await get_consultant(context_of(request).db, consultant_id)
    if user is None or user.disabled:
        if request.method == "GET" and "text/html" in request.headers.get("Accept", ""):
            raise web.HTTPSeeOther(f"/login?next={request.path_qs}")
        raise web.HTTPUnauthorized(text="Log in first.")
    request[USER] = user
    return await handler(request)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


FLASH = "flash"


async def flash(request: web.Request, message_id: str) -> None:
    """Keep a message id to show on the next full page."""
    session = await get_session(request)
    session[FLASH] = message_id


async def _template_globals(request: web.Request) -> dict[str, object]:
    session = await get_session(request)

    def take_flash() -> str | None:
        # Only base.html calls this: a live fragment fetched meanwhile must not eat it.
        value = session.pop(FLASH, None)
        return value if isinstance(value, str) else None

    return {
        "take_flash": take_flash,
        "_": words_for(request),
        "csrf_token": csrf.token(session),
        "me": request.get(USER),
        "language_name": language_name,
        "labels": labels,
        "path": request.path,
    }


def console_app(context: Context, session_key: bytes) -> web.Application:
    """Build the console application."""
    from infoline.console.views import routes  # the views need this module's helpers

    application = web.Application()
    application[CONTEXT] = context
    application[THROTTLE] = LoginThrottle(
        context.settings.login_max_failures, context.settings.login_window_seconds
    )
    application[STOPPING] = asyncio.Event()
    storage = EncryptedCookieStorage(
        Fernet(session_key),  # as bytes, the library would take the key for raw key material
        cookie_name=COOKIE,
        max_age=context.settings.session_max_age,
        secure=context.settings.secure_cookie,
        httponly=True,
        samesite="Strict",
    )
    setup_sessions(application, storage)
    application.middlewares.append(authenticate)
    aiohttp_jinja2.setup(
        application,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        context_processors=[_template_globals],
    )
    application.on_response_prepare.append(_security_headers)
    application.on_shutdown.append(_stop_streams)
    routes.add_routes(application)
    application.router.add_static("/static/", HERE / "static")
    return application


async def _stop_streams(application: web.Application) -> None:
    application[STOPPING].set()


@asynccontextmanager
async def running_console(context: Context, session_key: bytes) -> AsyncIterator[str]:
    """Serve the console for the block; yield its address."""
    runner = web.AppRunner(console_app(context, session_key), access_log=None)
    await runner.setup()
    settings = context.settings
    site = web.TCPSite(runner, settings.listen, settings.port)
    await site.start()
    try:
        yield f"http://{settings.listen}:{settings.port}/"
    finally:
        await runner.cleanup()
