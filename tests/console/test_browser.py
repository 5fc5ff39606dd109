"""A consultant's day in real Chromium: a case appears live, is claimed and answered, and
the answer reaches the user on Telegram (Bot API double) and by e-mail (real SMTP)."""

from __future__ import annotations

import asyncio
import csv
import os
import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from infoline.config import Settings
from infoline.handoff.records import Consultant
from infoline.nlu.client import NluClient
from tests.support.cases import PASSWORD
from tests.support.console import ConsoleRig, console_rig, queue_case
from tests.support.mailbox import ask_for_a_consultant, mail_rig
from tests.support.mailservers import Dovecot, SmtpSink
from tests.support.net import ROOT
from tests.support.telegram import telegram_rig

# The README's screenshots: written to docs/ only when asked
# (`SCREENSHOTS=docs .venv/bin/pytest tests/console/test_browser.py`), so that a test run
# leaves the checkout as it was; otherwise into the test's own folder.
SCREENSHOTS = os.environ.get("SCREENSHOTS")


def shot(tmp_path: Path, name: str) -> Path:
    """Where a screenshot goes."""
    return (ROOT / SCREENSHOTS if SCREENSHOTS else tmp_path) / name


LIVE = 10_000  # ms: the queue looks every 0.2 s in tests; the engine needs the NLU first
SIGNATURE = "— Olena, consultant of the infoline"


async def log_in(page: Page, console: ConsoleRig, user: Consultant) -> None:
    await page.goto(f"{console.url}/login")
    await page.fill("#user", user.username)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/queue")


async def claim_and_answer(page: Page, row_text: str, topic: str) -> str:
    """Claim the case whose row shows `row_text`, insert the topic's canned answer, sign it,
    send it; return the text sent."""
    row = page.locator("#queue tr[data-case]", has_text=row_text)
    await expect(row).to_be_visible(timeout=LIVE)
    await row.get_by_role("button").click()
    await page.wait_for_url(re.compile(r"/cases/\d+$"))
    await expect(page.locator("#transcript")).to_contain_text(row_text)
    await page.select_option("#canned", topic)
    await page.click("button[value=insert]")
    canned = await page.input_value("#reply")
    assert len(canned) > 100, "the knowledge base's answer is in the draft"
    await page.fill("#reply", f"{canned}\n\n{SIGNATURE}")
    await page.click("button[value=send]")
    await expect(page.locator(".flash")).to_contain_text("on its way")
    return f"{canned}\n\n{SIGNATURE}"


async def wait_delivered(page: Page) -> None:
    """Reload the case page until its consultant's reply (the last message) is delivered."""
    for _ in range(50):
        if await page.locator("li.out").last.locator(".badge.sent").count():
            return
        await page.wait_for_timeout(200)
        await page.reload()
    raise AssertionError("the reply never showed as delivered")


@pytest.mark.nlu
async def test_a_telegram_case_appears_live_and_the_answer_reaches_the_chat(
    settings: Settings, nlu: NluClient, tmp_path: Path, page: Page
) -> None:
    async with (
        telegram_rig(settings, nlu, tmp_path) as rig,
        console_rig(settings, rig.db) as console,
    ):
        olena = await console.consultant(("uk",))
        await log_in(page, console, olena)
        await expect(page.locator("#queue")).to_contain_text("Nothing here")
        title = await page.title()

        asking = rig.api.user(language_code="uk", first_name="Oksana")
        rig.api.command(asking, "human")
        await rig.api.wait_sent(asking, 1, timeout=10)
        rig.api.send(asking, "Роботодавець не заплатив мені за два місяці. Що робити?")
        in_danger = rig.api.user(language_code="uk", first_name="Ivan")
        rig.api.send(in_danger, "Роботодавець забрав мій паспорт і погрожує мені, я боюся")
        urgent = page.locator("#queue tr.urgent", has_text="паспорт")
        await expect(urgent).to_be_visible(timeout=LIVE)
        await expect(urgent.locator(".badge.urgent")).to_have_text("URGENT")
        await expect(page.locator("#queue tr[data-case]")).to_have_count(2, timeout=LIVE)
        await expect(page).to_have_title(f"(1!) {title}")
        await page.screenshot(path=shot(tmp_path, "console-queue.png"), full_page=True)

        sent = await claim_and_answer(page, "не заплатив", "work")
        answers = await rig.api.wait_sent(asking, 2, timeout=10)
        delivered = "".join(a.text for a in answers[1:]).replace("\n", "")
        assert delivered == sent.replace("\n", "")
        await wait_delivered(page)
        await page.screenshot(path=shot(tmp_path, "console-case.png"), full_page=True)


@pytest.mark.nlu
async def test_an_email_case_is_answered_in_its_thread(
    settings: Settings,
    nlu: NluClient,
    dovecot: Dovecot,
    smtp_sink: SmtpSink,
    tmp_path: Path,
    page: Page,
) -> None:
    async with (
        mail_rig(settings, nlu, dovecot, smtp_sink, tmp_path) as rig,
        console_rig(settings, rig.db) as console,
    ):
        anna = await console.consultant(("pl",))
        await log_in(page, console, anna)
        message_id = await ask_for_a_consultant(rig)
        sent = await claim_and_answer(page, "porozmawiać z człowiekiem", "work")
        _, answer = await rig.sink.wait_for(2, timeout=30)
        reply = answer.message
        assert reply["In-Reply-To"] == message_id and reply["Subject"] == "Re: Prośba"
        body = reply.get_body(("plain",))
        assert body is not None and SIGNATURE in body.get_content()
        assert sent.splitlines()[0] in body.get_content()
        await wait_delivered(page)


async def test_a_consultant_sees_only_cases_in_their_languages(
    console: ConsoleRig, page: Page
) -> None:
    polish = await console.consultant(("pl",))
    await queue_case(console.db, "Потрібна допомога з документами", "uk")
    await log_in(page, console, polish)
    await expect(page.locator("#queue")).to_contain_text("Nothing here")
    await queue_case(console.db, "Potrzebuję pomocy z dokumentami", "pl")
    await queue_case(console.db, "Нужна помощь с жильём", "ru", urgent=True)
    await expect(page.locator("#queue tr[data-case]")).to_have_count(1, timeout=LIVE)
    await expect(page.locator("#queue")).to_contain_text("Potrzebuję pomocy")
    await expect(page.locator("#queue")).not_to_contain_text("Потрібна допомога")
    await expect(page.locator("#queue")).not_to_contain_text("Нужна помощь")
    await expect(page).to_have_title(re.compile(r"^\(1\) "))


async def test_a_supervisor_sees_the_charts_and_downloads_them(
    console: ConsoleRig, page: Page, tmp_path: Path
) -> None:
    boss = await console.consultant(languages=("pl", "uk"), role="supervisor")
    for text, language in (("a", "uk"), ("b", "uk"), ("c", "pl")):
        await queue_case(console.db, text, language)
    await queue_case(console.db, "d", "ru", urgent=True)
    await log_in(page, console, boss)
    await page.click("text=Statistics")
    await page.wait_for_url("**/stats")
    charts = page.locator("svg.chart")
    await expect(charts).to_have_count(9)
    await expect(page.locator("svg.chart[aria-label='Cases by topic'] title")).to_have_text(
        ["work: 3", "emergency: 1"]
    )
    await expect(page.locator("svg.chart[aria-label='Cases by language'] title")).to_have_text(
        ["uk: 2", "pl: 1", "ru: 1"]
    )
    await expect(page.locator(".summary")).to_contain_text("Cases")
    async with page.expect_download() as download_info:
        await page.click("text=Download as CSV")
    download = await download_info.value
    saved = tmp_path / "stats.csv"
    await download.save_as(saved)
    rows = list(csv.reader((await asyncio.to_thread(saved.read_text, "utf-8")).splitlines()))
    assert ["cases", "total", "4"] in rows and ["cases_by_language", "uk", "2"] in rows
    await page.screenshot(path=shot(tmp_path, "console-statistics.png"), full_page=True)
