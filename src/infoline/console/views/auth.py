"""Log in and out, with throttling of failed attempts."""

from __future__ import annotations

import logging

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session, new_session

from infoline.console import csrf
from infoline.console.app import THROTTLE, USER_KEY, context_of, user_of
from infoline.core.i18n import _
from infoline.handoff.consultants import authenticate
from infoline.store import repository as repo

log = logging.getLogger(__name__)


def _next_path(value: object) -> str:
    # Only a path on this site: "//evil.example" or "https://..." would leave it.
    if isinstance(value, str) and value.startswith("/") and not value.startswith("//"):
        return value
    return "/queue"


async def login_page(request: web.Request) -> web.Response:
    """Show the login form."""
    return aiohttp_jinja2.render_template(
        "login.html", request, {"next": _next_path(request.query.get("next")), "error": None}
    )


async def login(request: web.Request) -> web.Response:
    """Check the user name and password; refuse after too many failures.

    The domain writes logins and failed attempts to the audit log; refusals by the
    throttle, which never reach it, are written here.
    """
    form = await request.post()
    user_name = str(form.get("user", ""))[:100]
    password = str(form.get("password", ""))[:1000]
    address = request.remote or "unknown"
    throttle = request.app[THROTTLE]
    context = context_of(request)
    next_path = _next_path(form.get("next"))
    wait = throttle.retry_after(user_name, address)
    if wait > 0:
        await _audit(request, f"consultant:{user_name}", "login_throttled", address=address)
        return _form_again(
            request, next_path, _("console_login_throttled"), 429, minutes=-(-int(wait) // 60)
        )
    consultant = await authenticate(context.db, user_name, password)
    if consultant is None or consultant.disabled:
        throttle.failed(user_name, address)
        return _form_again(request, next_path, _("console_login_failed"), 401)
    throttle.succeeded(user_name)
    # A new session on login: a cookie planted before it is worth nothing after it.
    session = await new_session(request)
    session[USER_KEY] = consultant.id
    csrf.token(session)
    raise web.HTTPSeeOther(next_path)


async def logout(request: web.Request) -> web.Response:
    """End the session."""
    user = user_of(request)
    session = await get_session(request)
    session.invalidate()
    await _audit(request, user.actor, "logout")
    raise web.HTTPSeeOther("/login")


def _form_again(
    request: web.Request, next_path: str, error: str, status: int, **params: object
) -> web.Response:
    response = aiohttp_jinja2.render_template(
        "login.html", request, {"next": next_path, "error": (error, params)}
    )
    response.set_status(status)
    return response


async def _audit(request: web.Request, actor: str, action: str, **details: object) -> None:
    await context_of(request).db.run(repo.audit, actor[:100] or "?", action, "console", **details)
