"""Every route of the console; each is refused without a session except the login form."""

from __future__ import annotations

from aiohttp import web

from infoline.console.views import auth, cases, me, queue, stats


async def home(request: web.Request) -> web.Response:
    """Send the consultant to the queue."""
    raise web.HTTPSeeOther("/queue")


def add_routes(application: web.Application) -> None:
    """Put the console's pages on the application."""
    r = application.router
    r.add_get("/", home)
    r.add_get("/login", auth.login_page)
    r.add_post("/login", auth.login)
    r.add_post("/logout", auth.logout)
    r.add_get("/queue", queue.queue_page)
    r.add_get("/queue/rows", queue.queue_rows)
    r.add_get("/events", queue.events)
    r.add_get("/cases/{case_id}", cases.case_page)
    r.add_get("/cases/{case_id}/transcript", cases.transcript)
    r.add_post("/cases/{case_id}/claim", cases.claim)
    r.add_post("/cases/{case_id}/reply", cases.reply)
    r.add_post("/cases/{case_id}/note", cases.note)
    r.add_post("/cases/{case_id}/transfer", cases.transfer)
    r.add_post("/cases/{case_id}/hand-back", cases.hand_back)
    r.add_post("/cases/{case_id}/resolve", cases.resolve)
    r.add_get("/attachments/{attachment_id}", cases.attachment)
    r.add_get("/me", me.settings_page)
    r.add_post("/me", me.save_settings)
    r.add_get("/stats", stats.stats_page)
    r.add_get("/stats.csv", stats.stats_csv)
