"""A consultant's own settings: availability, the languages they answer, the console's."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from infoline.console.app import context_of, flash, user_of
from infoline.core.i18n import _
from infoline.core.messages import LANGUAGES
from infoline.handoff import consultants


async def settings_page(request: web.Request) -> web.Response:
    """Show the consultant's settings."""
    return aiohttp_jinja2.render_template("me.html", request, {"languages": LANGUAGES})


async def save_settings(request: web.Request) -> web.Response:
    """Save availability, languages and the console's language, each audited by the domain."""
    user, db = user_of(request), context_of(request).db
    form = await request.post()
    available = form.get("available") == "1"
    languages = [str(code) for code in form.getall("languages", []) if code in LANGUAGES]
    console_language = str(form.get("console_language", user.console_language))
    if not languages:
        await flash(request, _("console_choose_a_language"))
        raise web.HTTPSeeOther("/me")
    if available != user.available:
        await consultants.set_availability(db, user.username, available)
    if tuple(languages) != user.languages:
        await consultants.set_languages(db, user.username, languages, user.actor)
    if console_language in LANGUAGES and console_language != user.console_language:
        await consultants.set_console_language(db, user.username, console_language)
    await flash(request, _("console_saved"))
    raise web.HTTPSeeOther("/me")
