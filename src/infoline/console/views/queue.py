"""The queue page, its live part, and the event stream that tells pages what changed."""

from __future__ import annotations

import asyncio
import json
import logging

import aiohttp_jinja2
from aiohttp import web

from infoline.console.app import STOPPING, context_of, user_of
from infoline.handoff.consultants import get as get_consultant
from infoline.handoff.records import Consultant, Queue
from infoline.store.db import now

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 15.0  # a comment line now and then keeps proxies from closing the stream


async def queue_page(request: web.Request) -> web.Response:
    """Show the consultant's queue: cases to take, their own, and (supervisors) others'."""
    return aiohttp_jinja2.render_template("queue.html", request, await _queue_context(request))


async def queue_rows(request: web.Request) -> web.Response:
    """Return the live part of the queue page, for the script to swap in."""
    return aiohttp_jinja2.render_template("queue_rows.html", request, await _queue_context(request))


async def _queue_context(request: web.Request) -> dict[str, object]:
    queue = await context_of(request).desk.queue_for(user_of(request))
    return {"queue": queue, "now": now()}


def _counts(queue: Queue) -> dict[str, int]:
    open_cases = (*queue.queued, *queue.mine)
    return {
        "waiting": len(queue.queued),
        "urgent": sum(1 for case in open_cases if case.urgent and case.status != "waiting"),
    }


async def events(request: web.Request) -> web.StreamResponse:
    """Stream a "changed" event whenever cases change, with the ids and the queue's counts.

    It asks the database (changes_since) every poll_seconds, so a change made by any
    process shows up here; one cheap indexed query when nothing changed.
    """
    context, user = context_of(request), user_of(request)
    desk, poll = context.desk, context.settings.poll_seconds
    stopping = request.app[STOPPING]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    revision = await desk.current_revision()
    quiet = 0.0
    try:
        await _send(response, user, await desk.queue_for(user), [])
        while not stopping.is_set():
            try:
                await asyncio.wait_for(stopping.wait(), poll)
                break
            except TimeoutError:
                pass
            changes = await desk.changes_since(revision)
            if changes.revision == revision:
                quiet += poll
                if quiet >= HEARTBEAT_SECONDS:
                    await response.write(b": still here\n\n")
                    quiet = 0.0
                continue
            revision, quiet = changes.revision, 0.0
            fresh = await get_consultant(context.db, user.id)
            if fresh is None or fresh.disabled:
                break
            user = fresh
            changed = [case.id for case in changes.cases]
            await _send(response, user, await desk.queue_for(user), changed)
    except ConnectionResetError:
        log.debug("An event stream of %s closed", user.username)
    return response


async def _send(
    response: web.StreamResponse, user: Consultant, queue: Queue, changed: list[int]
) -> None:
    data = json.dumps({"cases": changed, **_counts(queue)})
    await response.write(f"event: changed\ndata: {data}\n\n".encode())
