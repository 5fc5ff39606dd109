"""CSRF protection: one random token per session, required on every POST.

The token travels in a hidden form field (or the X-CSRF-Token header for scripts) and is
compared in constant time. Cookies are also SameSite=Strict, but the token does not rely
on the browser honouring that.
"""

from __future__ import annotations

import hmac
import secrets

from aiohttp import web
from aiohttp_session import Session, get_session

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
SESSION_KEY = "csrf"


def token(session: Session) -> str:
    """Return the session's token, making one when it has none."""
    value = session.get(SESSION_KEY)
    if not isinstance(value, str):
        value = secrets.token_urlsafe(32)
        session[SESSION_KEY] = value
    return value


async def verify(request: web.Request) -> None:
    """Refuse the request with 403 unless it carries the session's token."""
    session = await get_session(request)
    expected = session.get(SESSION_KEY)
    sent = request.headers.get(HEADER)
    if sent is None:
        form = await request.post()
        field = form.get(FIELD)
        sent = field if isinstance(field, str) else None
    if not isinstance(expected, str) or sent is None or not hmac.compare_digest(sent, expected):
        raise web.HTTPForbidden(text="The form has expired or did not come from the console.")
