"""The console refuses what it must: no session, no CSRF token, the wrong role, guessing;
and shows hostile user text and e-mail HTML as inert text."""

from __future__ import annotations

import re
from email.message import EmailMessage

from cryptography.fernet import Fernet
from sqlalchemy import select

from infoline import app
from infoline.console.app import CSP, console_app
from infoline.handoff import consultants
from infoline.mailbox.parse import parse_mail
from infoline.store.schema import AuditEntry
from tests.support.console import ConsoleRig, case_for, log_in, page_token, queue_case

HTML = {"Accept": "text/html"}
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> I need help with work'
OUR_SCRIPT = '<script src="/static/console.js" defer>'
PUBLIC = ("/login", "/static/")


def console_routes(rig: ConsoleRig) -> list[tuple[str, str]]:
    """Every (method, path) of the console but the login form and static files."""
    context = app.console_context(rig.settings, rig.db, rig.desk)
    found = []
    for route in console_app(context, Fernet.generate_key()).router.routes():
        path = route.resource.canonical if route.resource else ""
        if route.method in ("GET", "POST") and not path.startswith(PUBLIC):
            found.append((route.method, re.sub(r"\{\w+\}", "1", path)))
    return found


async def test_every_route_needs_a_session(console: ConsoleRig) -> None:
    await queue_case(console.db, "help")
    routes = console_routes(console)
    assert ("GET", "/cases/1") in routes and ("POST", "/cases/1/reply") in routes
    async with console.client() as client:
        token = await page_token(client, "/login")  # an anonymous session's valid token
        for method, path in routes:
            if method == "GET":
                async with client.get(path, headers=HTML, allow_redirects=False) as page:
                    assert page.status == 303, path
                    assert page.headers["Location"] == f"/login?next={path}"
                async with client.get(path, allow_redirects=False) as answer:  # a script
                    assert answer.status == 401, path
            else:
                async with client.post(path, data={"csrf_token": token}) as answer:
                    assert answer.status == 401, path


async def test_a_disabled_consultant_is_out_at_once(console: ConsoleRig) -> None:
    user = await console.consultant()
    async with console.client() as client:
        assert (await log_in(client, user.username)).status == 303
        async with client.get("/queue", allow_redirects=False) as page:
            assert page.status == 200
        await consultants.disable(console.db, user.username, "test")
        async with client.get("/queue", allow_redirects=False) as page:
            assert page.status == 401


async def test_consultants_get_403_on_supervisor_pages(console: ConsoleRig) -> None:
    consultant = await console.consultant()
    supervisor = await console.consultant(role="supervisor")
    async with console.client() as client:
        await log_in(client, consultant.username)
        for path in ("/stats", "/stats.csv", "/stats?days=7"):
            async with client.get(path, allow_redirects=False) as page:
                assert page.status == 403, path
    async with console.client() as client:
        await log_in(client, supervisor.username)
        async with client.get("/stats.csv") as page:
            assert page.status == 200
            assert page.content_type == "text/csv"


async def test_forms_without_the_csrf_token_are_refused(console: ConsoleRig) -> None:
    case_id = await queue_case(console.db, "help")
    user = await console.consultant()
    async with console.client() as client:
        await log_in(client, user.username)
        token = await page_token(client, "/queue")
        for method, path in console_routes(console):
            if method == "POST":
                path = path.replace("/1/", f"/{case_id}/")
                async with client.post(path, data={"text": "x"}) as answer:
                    assert answer.status == 403, path
                async with client.post(path, data={"csrf_token": token[::-1]}) as answer:
                    assert answer.status == 403, path
        queue = await console.desk.queue_for(user)
        assert [c.id for c in queue.queued] == [case_id], "a refused claim changed nothing"
        async with client.post(
            f"/cases/{case_id}/claim", data={"csrf_token": token}, allow_redirects=False
        ) as answer:
            assert answer.status == 303
            assert answer.headers["Location"] == f"/cases/{case_id}"
    login = {"user": user.username, "password": "x"}  # the login form is a form like any other
    async with console.client() as client, client.post("/login", data=login) as answer:
        assert answer.status == 403


def scripts_and_images(html: str) -> list[str]:
    return re.findall(r"<(?:script|img|iframe|object|embed)\b[^>]*>", html, re.IGNORECASE)


async def test_a_hostile_message_is_shown_as_text(console: ConsoleRig) -> None:
    case_id = await queue_case(console.db, HOSTILE)
    user = await console.consultant()
    async with console.client() as client:
        await log_in(client, user.username)
        for path in ("/queue", "/queue/rows", f"/cases/{case_id}"):
            async with client.get(path) as page:
                html = await page.text()
                assert page.headers["Content-Security-Policy"] == CSP
                assert page.headers["X-Frame-Options"] == "DENY"
            assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html, path
            assert scripts_and_images(html) in ([], [OUR_SCRIPT]), path
    assert "'unsafe-inline'" not in CSP and "frame-ancestors 'none'" in CSP


def hostile_mail() -> bytes:
    message = EmailMessage()
    message["From"] = "Mallory <mallory@example.com>"
    message["To"] = "infoline@example.org"
    message["Subject"] = "pomoc"
    message["Message-ID"] = "<hostile-1@example.com>"
    message.set_content(
        "<html><head><script>steal()</script><style>p{}</style></head><body>"
        "<p onclick='steal()'>Potrzebuję pomocy &lt;script&gt;alert(2)&lt;/script&gt;</p>"
        "<img src='https://tracker.example/p.gif' onerror='steal()'>"
        "<iframe src='https://evil.example/'></iframe>"
        "<a href='javascript:steal()'>kliknij</a></body></html>",
        subtype="html",
    )
    message.add_attachment(
        b"<script>steal()</script>", maintype="text", subtype="html", filename="form.html"
    )
    return bytes(message)


async def test_hostile_email_html_is_shown_as_text(console: ConsoleRig) -> None:
    mail = parse_mail(hostile_mail(), "infoline@example.org", 1_000_000, 1_000_000)
    case_id = await case_for(console.db, mail, "pl")
    user = await console.consultant(languages=("pl",))
    async with console.client() as client:
        await log_in(client, user.username)
        async with client.get(f"/cases/{case_id}") as page:
            html = await page.text()
        assert "Potrzebuję pomocy &lt;script&gt;alert(2)&lt;/script&gt;" in html
        assert scripts_and_images(html) == [OUR_SCRIPT]
        assert "steal()" not in html and "javascript:" not in html and "onclick" not in html
        [link] = re.findall(r'href="(/attachments/\d+)">form.html<', html)
        async with client.get(link) as download:  # a file to save, never a page to run
            assert download.content_type == "application/octet-stream"
            assert download.headers["Content-Disposition"].startswith("attachment;")
            assert download.headers["Content-Security-Policy"].startswith("sandbox")
            assert await download.read() == b"<script>steal()</script>"


async def test_logins_are_throttled_per_user_name_and_per_address(console: ConsoleRig) -> None:
    user = await console.consultant()
    other = await console.consultant()
    limit = console.settings.console.login_max_failures
    async with console.client() as client:
        for _ in range(limit):
            answer = await log_in(client, user.username, "wrong")
            assert answer.status == 401
        refused = await log_in(client, user.username)  # the right password, too late
        assert refused.status == 429
        assert "Too many failed logins" in await refused.text()
        # Every failure also counted against this address: other accounts are shut too.
        assert (await log_in(client, other.username)).status == 429
    async with console.db.transaction() as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert actions.count("login_failed") == limit
    assert actions.count("login_throttled") == 2
