"""A case's page and everything a consultant does with a case."""

from __future__ import annotations

from collections.abc import Awaitable
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiMapping

from infoline.console.app import context_of, flash, user_of
from infoline.core.i18n import _
from infoline.handoff.consultants import list_all
from infoline.handoff.errors import CaseClosed, CaseNotFound, NotAllowed, UnknownConsultant
from infoline.handoff.records import CaseView, Consultant

# What a consultant is told when the domain refuses an action, by the error's kind.
REFUSALS: tuple[tuple[type[Exception], str], ...] = (
    (NotAllowed, _("console_refused_not_yours")),
    (CaseClosed, _("console_refused_closed")),
    (UnknownConsultant, _("console_refused_unknown_consultant")),
    (ValueError, _("console_refused_invalid")),
)


def _text(form: MultiMapping[object], name: str) -> str:
    # Browsers send a textarea's line breaks as CRLF (the HTML standard says so).
    return str(form.get(name, "")).replace("\r\n", "\n")


def _case_id(request: web.Request) -> int:
    try:
        return int(request.match_info["case_id"])
    except ValueError:
        raise web.HTTPNotFound() from None


async def _view(request: web.Request, case_id: int) -> CaseView:
    try:
        return await context_of(request).desk.case_view(case_id, user_of(request))
    except CaseNotFound:
        raise web.HTTPNotFound(text=f"There is no case {case_id}.") from None


async def case_page(request: web.Request) -> web.Response:
    """Show a case: the transcript with delivery states, facts, notes and actions."""
    return await _render_case(request, _case_id(request), draft="")


async def _render_case(request: web.Request, case_id: int, draft: str) -> web.Response:
    context, user = context_of(request), user_of(request)
    view = await _view(request, case_id)
    case = view.case
    language = case.language or context.default_language
    colleagues = [c for c in await list_all(context.db) if not c.disabled and c.id != user.id]
    return aiohttp_jinja2.render_template(
        "case.html",
        request,
        {
            "view": view,
            "draft": draft,
            "can_reply": _may_reply(view, user),
            "canned": context.desk.canned_answers(language),
            "colleagues": colleagues,
            "categories": context.desk.resolutions(),
        },
    )


def _may_reply(view: CaseView, user: Consultant) -> bool:
    case = view.case
    return case.status != "resolved" and case.assignee == user.username and not view.erased


async def transcript(request: web.Request) -> web.Response:
    """Return the live part of a case page: the transcript."""
    view = await _view(request, _case_id(request))
    return aiohttp_jinja2.render_template("transcript.html", request, {"view": view})


async def claim(request: web.Request) -> web.Response:
    """Take a queued case; when someone else was faster, say so on the queue."""
    case_id = _case_id(request)
    if await context_of(request).desk.claim(case_id, user_of(request)):
        raise web.HTTPSeeOther(f"/cases/{case_id}")
    await flash(request, _("console_claim_lost"))
    raise web.HTTPSeeOther("/queue")


async def reply(request: web.Request) -> web.Response:
    """Send the reply, or (the Insert button) put a canned answer into the draft."""
    case_id = _case_id(request)
    context, user = context_of(request), user_of(request)
    form = await request.post()
    text = _text(form, "text")
    if form.get("action") == "insert":
        view = await _view(request, case_id)
        language = view.case.language or context.default_language
        chosen = str(form.get("canned", ""))
        for answer in context.desk.canned_answers(language):
            if answer.topic == chosen:
                text = f"{text.rstrip()}\n\n{answer.text}" if text.strip() else answer.text
        return await _render_case(request, case_id, draft=text)
    await _act(request, case_id, context.desk.reply(case_id, user, text), _("console_reply_queued"))
    raise web.HTTPSeeOther(f"/cases/{case_id}")


async def note(request: web.Request) -> web.Response:
    """Add an internal note."""
    case_id = _case_id(request)
    form = await request.post()
    text = _text(form, "text")
    desk = context_of(request).desk
    await _act(request, case_id, desk.note(case_id, user_of(request), text), None)
    raise web.HTTPSeeOther(f"/cases/{case_id}")


async def transfer(request: web.Request) -> web.Response:
    """Give the case to a colleague, or back to the queue."""
    case_id = _case_id(request)
    form = await request.post()
    to = str(form.get("to", "")) or None
    desk = context_of(request).desk
    if await _act(
        request, case_id, desk.transfer(case_id, user_of(request), to), _("console_transferred")
    ):
        raise web.HTTPSeeOther("/queue")
    raise web.HTTPSeeOther(f"/cases/{case_id}")


async def hand_back(request: web.Request) -> web.Response:
    """Close the case and let the assistant answer the user again."""
    case_id = _case_id(request)
    desk = context_of(request).desk
    if await _act(
        request, case_id, desk.hand_back(case_id, user_of(request)), _("console_handed_back")
    ):
        raise web.HTTPSeeOther("/queue")
    raise web.HTTPSeeOther(f"/cases/{case_id}")


async def resolve(request: web.Request) -> web.Response:
    """Close the case with a category (a topic id or "other")."""
    case_id = _case_id(request)
    form = await request.post()
    category = str(form.get("category", ""))
    desk = context_of(request).desk
    if await _act(
        request, case_id, desk.resolve(case_id, user_of(request), category), _("console_resolved")
    ):
        raise web.HTTPSeeOther("/queue")
    raise web.HTTPSeeOther(f"/cases/{case_id}")


async def _act(
    request: web.Request, case_id: int, action: Awaitable[object], done: str | None
) -> bool:
    """Run a domain action; flash what happened; True when it was done."""
    try:
        await action
    except CaseNotFound:
        raise web.HTTPNotFound(text=f"There is no case {case_id}.") from None
    except Exception as err:
        for kind, message_id in REFUSALS:
            if isinstance(err, kind):
                await flash(request, message_id)
                return False
        raise
    if done is not None:
        await flash(request, done)
    return True


async def attachment(request: web.Request) -> web.Response:
    """Download a stored attachment; never shown inline, whatever its type claims."""
    try:
        attachment_id = int(request.match_info["attachment_id"])
        found = await context_of(request).desk.attachment(attachment_id, user_of(request))
    except (ValueError, CaseNotFound):
        raise web.HTTPNotFound() from None
    return web.Response(
        body=found.content,
        content_type="application/octet-stream",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(found.name)}",
            "Content-Security-Policy": "sandbox; default-src 'none'",
        },
    )
