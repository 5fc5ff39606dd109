"""Console accounts on both databases: argon2 hashes, sign-in, languages, disabling."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from infoline.handoff import consultants
from infoline.handoff.cases import CaseDesk
from infoline.handoff.errors import ConsultantExists, InvalidInput, UnknownConsultant
from infoline.store.db import Database
from infoline.store.schema import AuditEntry, ConsultantAccount
from tests.support.cases import PASSWORD, make_case, make_consultant


async def test_add_and_authenticate(db: Database) -> None:
    made = await consultants.add(
        db, "anna", PASSWORD, display_name="Anna K.", languages=["uk", "pl", "uk"]
    )
    assert (made.username, made.display_name, made.role) == ("anna", "Anna K.", "consultant")
    assert made.languages == ("uk", "pl") and not made.available and not made.disabled
    assert made.console_language == "uk"
    async with db.transaction() as session:
        stored = await session.scalar(select(ConsultantAccount.password_hash))
    assert stored is not None and stored.startswith("$argon2id$") and PASSWORD not in stored
    assert await consultants.authenticate(db, "anna", PASSWORD) == made
    assert await consultants.authenticate(db, "anna", PASSWORD + "x") is None
    assert await consultants.authenticate(db, "nobody", PASSWORD) is None
    async with db.transaction() as session:
        actions = list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["consultant_added", "login", "login_failed", "login_failed"]


async def test_refused_accounts(db: Database) -> None:
    await consultants.add(db, "anna", PASSWORD)
    with pytest.raises(ConsultantExists):
        await consultants.add(db, "anna", "other")
    for name, password, languages in [
        ("Bad Name", PASSWORD, ["pl"]),
        ("b", PASSWORD, ["pl"]),
        ("bogdan", "", ["pl"]),
        ("bogdan", PASSWORD, ["de"]),
        ("bogdan", PASSWORD, []),
    ]:
        with pytest.raises(InvalidInput):
            await consultants.add(db, name, password, languages=languages)
    with pytest.raises(UnknownConsultant):
        await consultants.disable(db, "nobody", actor="test")
    assert [c.username for c in await consultants.list_all(db)] == ["anna"]


async def test_settings_of_an_account(db: Database) -> None:
    await consultants.add(db, "anna", PASSWORD, languages=["pl"])
    assert (await consultants.set_languages(db, "anna", ["ru", "en"], "test")).languages == (
        "ru",
        "en",
    )
    assert (await consultants.set_availability(db, "anna", True)).available
    assert (await consultants.set_console_language(db, "anna", "en")).console_language == "en"
    await consultants.set_password(db, "anna", "new secret", "test")
    assert await consultants.authenticate(db, "anna", PASSWORD) is None
    signed_in = await consultants.authenticate(db, "anna", "new secret")
    assert signed_in is not None and await consultants.get(db, signed_in.id) == signed_in
    assert await consultants.find(db, "anna") == signed_in
    assert await consultants.get(db, signed_in.id + 100) is None


async def test_disabled_account_cannot_sign_in_and_its_cases_return_to_the_queue(
    db: Database, desk: CaseDesk
) -> None:
    anna = await make_consultant(db, "anna")
    case_id = await make_case(db)
    assert await desk.claim(case_id, anna)
    disabled = await consultants.disable(db, "anna", actor="supervisor")
    assert disabled.disabled and not disabled.available
    assert await consultants.authenticate(db, "anna", PASSWORD) is None
    with pytest.raises(UnknownConsultant):
        await consultants.set_availability(db, "anna", True)
    bogdan = await make_consultant(db, "bogdan")
    queue = await desk.queue_for(bogdan)
    assert [c.id for c in queue.queued] == [case_id] and queue.queued[0].assignee is None
    assert not await desk.claim(case_id, disabled), "a disabled account claims nothing"
    await consultants.enable(db, "anna", actor="supervisor")
    assert await consultants.authenticate(db, "anna", PASSWORD) is not None


async def test_first_supervisor_only_when_there_is_no_account(db: Database) -> None:
    made = await consultants.ensure_first_supervisor(db)
    assert made is not None
    username, password = made
    supervisor = await consultants.authenticate(db, username, password)
    assert supervisor is not None and supervisor.is_supervisor
    assert set(supervisor.languages) == {"pl", "uk", "ru", "en"}
    assert await consultants.ensure_first_supervisor(db) is None
