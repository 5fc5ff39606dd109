"""The console's pages and actions over HTTP: its languages, a consultant's settings, and
every action on a case reaching the domain and its audit log."""

from __future__ import annotations

from aiohttp import ClientSession
from sqlalchemy import select

from infoline.handoff import consultants
from infoline.store.schema import AuditEntry
from tests.support.console import ConsoleRig, log_in, page_token, queue_case


async def audited(rig: ConsoleRig) -> list[tuple[str, str, str]]:
    async with rig.db.transaction() as session:
        rows = await session.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.subject).order_by(AuditEntry.id)
        )
        return [(actor, action, subject) for actor, action, subject in rows]


async def post(client: ClientSession, path: str, token: str, **fields: str) -> tuple[str, str]:
    """Submit a form as the browser does; return the page it lands on: path and HTML."""
    async with client.post(path, data={"csrf_token": token, **fields}) as answer:
        assert answer.status == 200, (path, answer.status)
        return str(answer.url.path), await answer.text()


async def test_the_console_speaks_the_consultants_language(console: ConsoleRig) -> None:
    user = await console.consultant(languages=("pl",))
    await consultants.set_console_language(console.db, user.username, "pl")
    async with console.client() as client:
        await log_in(client, user.username)
        async with client.get("/queue") as page:
            html = await page.text()
        assert '<html lang="pl">' in html and "Kolejka" in html
        token = await page_token(client, "/me")
        await post(client, "/me", token, languages="pl", console_language="uk")
        async with client.get("/queue") as page:
            html = await page.text()
        assert '<html lang="uk">' in html and "Черга" in html


async def test_a_consultant_sets_availability_and_languages(console: ConsoleRig) -> None:
    user = await console.consultant(languages=("pl",))
    assert user.available
    async with console.client() as client:
        await log_in(client, user.username)
        token = await page_token(client, "/me")
        form = [("csrf_token", token), ("languages", "uk"), ("languages", "ru")]
        form += [("console_language", "en")]  # "available" unticked: away
        async with client.post("/me", data=form) as answer:
            assert "Saved." in await answer.text()
        async with client.post("/me", data={"csrf_token": token}) as answer:
            assert "Choose at least one language" in await answer.text()
    now = await consultants.get(console.db, user.id)
    assert now is not None and not now.available and now.languages == ("uk", "ru")
    trail = await audited(console)
    assert trail[-2:] == [
        (user.actor, "availability_set", f"consultant:{user.username}"),
        (user.actor, "languages_set", f"consultant:{user.username}"),
    ]


async def test_every_view_and_action_reaches_the_audit_log(console: ConsoleRig) -> None:
    case_id = await queue_case(console.db, "Потрібна допомога")
    other_id = await queue_case(console.db, "Ще одне питання")
    olena = await console.consultant()
    taras = await console.consultant()
    async with console.client() as client, console.client() as rival:
        await log_in(client, olena.username)
        await log_in(rival, taras.username)
        token = await page_token(client, "/queue")
        landed, _ = await post(client, f"/cases/{case_id}/claim", token)
        assert landed == f"/cases/{case_id}"
        rival_token = await page_token(rival, "/queue")
        landed, html = await post(rival, f"/cases/{case_id}/claim", rival_token)
        assert landed == "/queue" and "Another consultant took this case first" in html
        _, html = await post(
            rival, f"/cases/{case_id}/reply", rival_token, text="Hi", action="send"
        )
        assert "This case is not yours" in html
        await post(client, f"/cases/{case_id}/note", token, text="Called back twice.")
        await post(client, f"/cases/{case_id}/reply", token, text="Добрий день!", action="send")
        await post(client, f"/cases/{case_id}/transfer", token, to=taras.username)
        landed, html = await post(rival, f"/cases/{case_id}/resolve", rival_token, category="work")
        assert landed == "/queue" and "The case is resolved." in html
        await post(client, f"/cases/{other_id}/claim", token)
        await post(client, f"/cases/{other_id}/hand-back", token)
        async with client.get(f"/cases/{case_id}") as page:
            html = await page.text()
        assert "Called back twice." in html and "Добрий день!" in html
    trail = [(actor, action, subject) for actor, action, subject in await audited(console)]
    mine, theirs = olena.actor, taras.actor
    for expected in [
        (mine, "case_claimed", f"case:{case_id}"),
        (mine, "case_viewed", f"case:{case_id}"),
        (mine, "case_noted", f"case:{case_id}"),
        (mine, "case_transferred", f"case:{case_id}"),
        (theirs, "case_resolved", f"case:{case_id}"),
        (mine, "case_handed_back", f"case:{other_id}"),
    ]:
        assert expected in trail, expected
    assert (theirs, "case_claimed", f"case:{case_id}") not in trail
