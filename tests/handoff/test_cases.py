"""The case desk on both databases: routing, the life of a case, delivery, audit, changes."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select, update

from infoline import app
from infoline.config import Settings
from infoline.core.policy import URGENT
from infoline.handoff import consultants
from infoline.handoff.cases import CaseDesk
from infoline.handoff.errors import (
    CaseClosed,
    CaseNotFound,
    InvalidInput,
    NotAllowed,
    UnknownConsultant,
)
from infoline.handoff.records import Changes
from infoline.store import mail
from infoline.store.db import Database, now
from infoline.store.privacy import erase_contact
from infoline.store.schema import AuditEntry, Case, CaseNote, Message
from tests.support.cases import make_case, make_consultant
from tests.support.channels import RecordingChannel


async def audit_actions(db: Database, subject: str) -> list[str]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(AuditEntry.action).where(AuditEntry.subject == subject).order_by(AuditEntry.id)
        )
        return list(rows)


async def test_queue_routes_by_language_urgent_first_then_longest_waiting(
    db: Database, desk: CaseDesk
) -> None:
    polish = await make_case(db, "Szukam pracy", language="pl")
    old_uk = await make_case(db, "Допоможіть з житлом", language="uk")
    new_uk = await make_case(db, "Де отримати PESEL?", language="uk")
    unknown = await make_case(db, "???", language=None)
    urgent = await make_case(db, "Мені погрожують", language="uk", priority=URGENT)
    async with db.transaction() as session:
        await session.execute(
            update(Case)
            .where(Case.id == old_uk)
            .values(waiting_since=now() - dt.timedelta(hours=2))
        )
    olena = await make_consultant(db, "olena", ["uk"])
    piotr = await make_consultant(db, "piotr", ["pl", "en"], available=False)
    boss = await make_consultant(db, "boss", ["pl"], role="supervisor")
    queue = await desk.queue_for(olena)
    assert [c.id for c in queue.queued] == [urgent, old_uk, new_uk, unknown]
    assert queue.queued[0].urgent and queue.queued[1].preview == "Допоможіть з житлом"
    assert queue.queued[1].contact_name == "Olena" and queue.mine == queue.others == ()
    assert [c.id for c in (await desk.queue_for(piotr)).queued] == [polish, unknown]
    # Unavailable consultants see what they could take; only available ones are alerted.
    summary = (await desk.queue_for(piotr)).queued[0]
    assert summary.takeable_by(piotr) and not summary.notifies(piotr)
    assert summary.notifies(await consultants.set_availability(db, "piotr", True))
    assert len((await desk.queue_for(boss)).queued) == 5, "a supervisor may take any case"
    assert not await desk.claim(polish, olena), "not her language"
    assert await desk.claim(urgent, olena)
    queue = await desk.queue_for(olena)
    assert [c.id for c in queue.mine] == [urgent] and queue.mine[0].assignee == "olena"
    assert urgent not in [c.id for c in queue.queued]
    assert [c.id for c in (await desk.queue_for(boss)).others] == [urgent]


async def test_the_life_of_a_case(settings: Settings, db: Database) -> None:
    channel = RecordingChannel("telegram")
    dispatcher = app.dispatcher(settings, db, {"telegram": channel}, wake := asyncio.Event())
    desk = app.case_desk(settings, db, wake)
    case_id = await make_case(db, "Мені потрібен юрист", address="42")
    olena = await make_consultant(db, "olena", ["uk"])
    taras = await make_consultant(db, "taras", ["uk"])
    with pytest.raises(NotAllowed):
        await desk.reply(case_id, olena, "Добрий день!")  # not claimed yet
    assert await desk.claim(case_id, olena)
    assert not await desk.claim(case_id, taras)
    with pytest.raises(NotAllowed):
        await desk.reply(case_id, taras, "Я теж тут")
    with pytest.raises(InvalidInput):
        await desk.reply(case_id, olena, "   ")
    message_id = await desk.reply(case_id, olena, "Добрий день! Чим можу допомогти?")
    assert wake.is_set()
    view = await desk.case_view(case_id, olena)
    (reply,) = [entry for entry in view.transcript if entry.id == message_id]
    assert reply.delivery is not None and reply.delivery.status == "pending"
    assert reply.author == "olena" and reply.case_id == case_id
    assert view.case.status == "waiting" and view.case.first_response_at is not None
    assert view.case.waiting_since is None and view.contact_address == "42"
    await dispatcher.send_due()
    assert [(m.address, m.text, m.automatic) for m in channel.sent] == [
        ("42", "Добрий день! Чим можу допомогти?", False)
    ]
    view = await desk.case_view(case_id, olena)
    delivered = view.transcript[-1].delivery
    assert delivered is not None and delivered.status == "sent" and delivered.sent_at
    assert view.transcript[0].direction == "in" and view.transcript[0].delivery is None

    note_id = await desk.note(case_id, taras, "Знаю цю людину, дзвонила вчора.")
    await desk.transfer(case_id, olena, "taras")
    with pytest.raises(UnknownConsultant):
        await desk.transfer(case_id, taras, "nobody")
    with pytest.raises(NotAllowed):
        await desk.resolve(case_id, olena, "other")  # no longer hers
    with pytest.raises(InvalidInput):
        await desk.resolve(case_id, taras, "not_a_topic")
    await desk.resolve(case_id, taras, "work")
    view = await desk.case_view(case_id, taras)
    assert [(n.id, n.author) for n in view.notes] == [(note_id, "taras")]
    assert view.case.status == "resolved" and view.case.resolution == "work"
    assert view.case.assignee == "taras" and view.case.resolved_at is not None
    with pytest.raises(CaseClosed):
        await desk.reply(case_id, taras, "І ще одне")
    with pytest.raises(CaseNotFound):
        await desk.case_view(case_id + 1000, taras)
    assert await audit_actions(db, f"case:{case_id}") == [
        "case_opened",
        "case_claimed",
        "case_viewed",
        "case_viewed",
        "case_noted",
        "case_transferred",
        "case_resolved",
        "case_viewed",
    ]


async def test_failed_delivery_is_shown(settings: Settings, db: Database) -> None:
    channel = RecordingChannel("telegram")
    channel.fail_permanently = True
    dispatcher = app.dispatcher(settings, db, {"telegram": channel}, asyncio.Event())
    desk = app.case_desk(settings, db)
    case_id = await make_case(db)
    olena = await make_consultant(db, "olena")
    assert await desk.claim(case_id, olena)
    await desk.reply(case_id, olena, "Ви тут?")
    await dispatcher.send_due()
    view = await desk.case_view(case_id, olena)
    delivery = view.transcript[-1].delivery
    assert delivery is not None and delivery.status == "failed" and delivery.last_error
    assert view.unreachable


async def test_transfer_to_the_queue_and_hand_back(db: Database, desk: CaseDesk) -> None:
    case_id = await make_case(db)
    olena = await make_consultant(db, "olena")
    boss = await make_consultant(db, "boss", ["pl"], role="supervisor")
    assert await desk.claim(case_id, olena)
    await desk.transfer(case_id, boss, None)  # a supervisor may move anyone's case
    summary = (await desk.queue_for(olena)).queued[0]
    assert (summary.id, summary.status, summary.assignee) == (case_id, "queued", None)
    await desk.transfer(case_id, boss, "olena")
    assert (await desk.queue_for(olena)).mine[0].status == "assigned"
    await desk.hand_back(case_id, olena)
    view = await desk.case_view(case_id, olena)
    assert view.case.status == "resolved" and view.case.resolution == "handed_back"
    with pytest.raises(CaseClosed):
        await desk.hand_back(case_id, olena)


async def test_changes_since_a_revision(db: Database, desk: CaseDesk) -> None:
    start = await desk.current_revision()
    assert await desk.changes_since(start) == Changes(start, ())
    first = await make_case(db)
    second = await make_case(db, language="pl")
    changes = await desk.changes_since(start)
    assert [c.id for c in changes.cases] == [first, second] and changes.revision > start
    olena = await make_consultant(db, "olena")
    assert await desk.claim(first, olena)
    later = await desk.changes_since(changes.revision)
    assert [(c.id, c.status) for c in later.cases] == [(first, "assigned")]
    assert (await desk.changes_since(later.revision)).cases == ()
    await desk.note(second, olena, "a note is a change too")
    assert [c.id for c in (await desk.changes_since(later.revision)).cases] == [second]


async def test_canned_answers_in_the_users_language(desk: CaseDesk, settings: Settings) -> None:
    kb = app.knowledge_base(settings)
    answers = {a.topic: a for a in desk.canned_answers("uk")}
    assert "work" in answers and "emergency" in answers
    assert answers["work"].text == kb.answer("work", "uk", app.contacts(settings))
    assert answers["work"].title != answers["work"].text
    assert desk.canned_answers("pl")[0].text != desk.canned_answers("uk")[0].text
    assert "other" in desk.resolutions() and "work" in desk.resolutions()


async def test_erased_contact_gets_no_reply_and_loses_its_notes(
    db: Database, desk: CaseDesk
) -> None:
    case_id = await make_case(db, address="77")
    olena = await make_consultant(db, "olena")
    assert await desk.claim(case_id, olena)
    await desk.note(case_id, olena, "Olena, born 1990, from Kharkiv")
    assert await erase_contact(db, "telegram", "77", actor="test")
    with pytest.raises(CaseClosed):
        await desk.reply(case_id, olena, "Добрий день")
    view = await desk.case_view(case_id, olena)
    assert view.erased and view.notes == () and view.transcript[0].text is None
    async with db.transaction() as session:
        assert await session.scalar(select(CaseNote.id)) is None


async def test_attachments_are_listed_and_opened_with_an_audit_entry(
    db: Database, desk: CaseDesk
) -> None:
    case_id = await make_case(db, "Ось мій паспорт")
    async with db.transaction() as session:
        message_id = await session.scalar(select(Message.id))
    assert message_id is not None
    await db.run(
        mail.add_attachments,
        message_id,
        [("paszport.pdf", "application/pdf", 4, b"%PDF"), ("big.mov", "video/mp4", 10**9, None)],
    )
    olena = await make_consultant(db, "olena")
    view = await desk.case_view(case_id, olena)
    files = view.transcript[0].attachments
    assert [(f.name, f.size, f.stored) for f in files] == [
        ("paszport.pdf", 4, True),
        ("big.mov", 10**9, False),
    ]
    opened = await desk.attachment(files[0].id, olena)
    assert (opened.name, opened.mime, opened.content) == (
        "paszport.pdf",
        "application/pdf",
        b"%PDF",
    )
    with pytest.raises(CaseNotFound):
        await desk.attachment(files[1].id, olena)  # only its name and size were kept
    assert await audit_actions(db, f"attachment:{files[0].id}") == ["attachment_viewed"]
