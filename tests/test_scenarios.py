"""Conversations as data: tests/scenarios/*.yml through the real engine, NLU and store.

Each turn sends one message (text, a command, feedback or unreadable content) and
checks the topic the assistant acted on, the language of its replies, how many replies
it sent and the state of the conversation's case. A turn can instead be a consultant's
action on the case (`consultant: reply`, `resolve` or `hand_back`), or time passing
since the last resolution (`hours_later`). Every scenario runs on SQLite and on
PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from infoline import app
from infoline.app import Assistant
from infoline.config import Settings
from infoline.core.messages import LANGUAGES, Attachment, Inbound
from infoline.handoff import consultants
from infoline.nlu.client import NluClient
from infoline.store.repository import OPEN_CASE_STATES
from infoline.store.schema import Case, Message
from tests.support.cases import make_consultant
from tests.support.channels import RecordingChannel, recording_assistant
from tests.support.databases import BACKENDS, fresh_database

pytestmark = pytest.mark.nlu
SCENARIOS = sorted((Path(__file__).parent / "scenarios").glob("*.yml"))
TURN_KEYS = {"say", "command", "argument", "kind", "feedback", "hint", "expect"}
ACTION_KEYS = {"consultant", "hours_later", "expect"}
EXPECT_KEYS = {"topic", "reply_language", "case", "status", "replies", "reply_contains", "buttons"}
CONSULTANT = "scenario-consultant"


class Conversation:
    """One simulated user talking to the real assistant."""

    def __init__(self, assistant: Assistant, channel: RecordingChannel, address: str) -> None:
        self.assistant, self.channel, self.address = assistant, channel, address
        self.db = assistant.database

    async def send(
        self, turn: dict[str, Any], default_hint: str | None
    ) -> tuple[Message, list[Any]]:
        inbound = Inbound(
            channel=self.channel.name,
            address=self.address,
            external_id=uuid.uuid4().hex,
            text=str(turn.get("say", "")),
            kind=turn.get("kind", "text"),
            language_hint=turn.get("hint", default_hint),
            command=turn.get("command"),
            argument=turn.get("argument"),
            feedback=turn.get("feedback"),
            attachments=(Attachment(turn["kind"]),) if "kind" in turn else (),
        )
        before = len(self.channel.sent)
        received = await self.assistant.exchange(inbound)
        async with self.db.transaction() as session:
            message = await session.get(Message, received.message_id)
        assert message is not None and message.processed_at is not None
        return message, self.channel.sent[before:]

    async def act(self, settings: Settings, turn: dict[str, Any]) -> None:
        """Let the consultant act on the latest case, or let time pass since its resolution."""
        if "hours_later" in turn:
            later = dt.timedelta(hours=turn["hours_later"])
            async with self.db.transaction() as session:
                for resolved in await session.scalars(
                    select(Case).where(Case.resolved_at.is_not(None))
                ):
                    resolved.resolved_at = (resolved.resolved_at or resolved.created_at) - later
            return
        consultant = await consultants.find(self.db, CONSULTANT) or await make_consultant(
            self.db, CONSULTANT, LANGUAGES
        )
        desk = app.case_desk(settings, self.db)
        async with self.db.transaction() as session:
            case = await session.scalar(select(Case).order_by(Case.id.desc()).limit(1))
        assert case is not None, "no case for the consultant"
        if case.status == "queued":
            assert await desk.claim(case.id, consultant)
        action = turn["consultant"]
        if action == "reply":
            await desk.reply(case.id, consultant, "A consultant's answer.")
        elif action == "resolve":
            await desk.resolve(case.id, consultant, "other")
        else:
            assert action == "hand_back", action
            await desk.hand_back(case.id, consultant)
        await self.assistant.dispatcher.send_due()

    async def case_status(self) -> str:
        async with self.db.transaction() as session:
            case = await session.scalar(select(Case).order_by(Case.id.desc()).limit(1))
        return "none" if case is None else case.status

    async def case_state(self) -> str:
        async with self.db.transaction() as session:
            case = await session.scalar(
                select(Case).where(Case.status.in_(OPEN_CASE_STATES)).order_by(Case.id.desc())
            )
        if case is None:
            return "none"
        return "urgent" if case.priority == 0 else "open"


@pytest.fixture(params=BACKENDS)
async def assistant(
    request: pytest.FixtureRequest, settings: Settings, nlu: NluClient, tmp_path: Path
) -> AsyncIterator[tuple[Assistant, RecordingChannel]]:
    async with fresh_database(request.param, tmp_path) as db:
        yield recording_assistant(settings, db, nlu)


def load(path: Path) -> dict[str, Any]:
    scenario: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert set(scenario) <= {"description", "hint", "turns"}, path
    for turn in scenario["turns"]:
        keys = ACTION_KEYS if {"consultant", "hours_later"} & set(turn) else TURN_KEYS
        assert set(turn) <= keys and set(turn.get("expect", {})) <= EXPECT_KEYS, turn
        assert isinstance(turn.get("say", ""), str), (
            f"{path}: quote {turn['say']!r} (YAML reads it as a bool)"
        )
    return scenario


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
async def test_scenario(
    path: Path, assistant: tuple[Assistant, RecordingChannel], settings: Settings
) -> None:
    scenario = load(path)
    user = Conversation(*assistant, address=f"user-{uuid.uuid4().hex[:8]}")
    for number, turn in enumerate(scenario["turns"], 1):
        expect = turn.get("expect", {})
        where = f"{path.name} turn {number} ({turn.get('say') or turn})"
        if {"consultant", "hours_later"} & set(turn):
            await user.act(settings, turn)
            await check_case(user, expect, where)
            continue
        message, replies = await user.send(turn, scenario.get("hint"))
        if "topic" in expect:
            assert message.topic == expect["topic"], f"{where}: topic {message.topic}"
        if "reply_language" in expect:
            assert replies, f"{where}: no reply"
            languages = {r.language for r in replies}
            assert languages == {expect["reply_language"]}, f"{where}: replied in {languages}"
        if "replies" in expect:
            assert len(replies) == expect["replies"], f"{where}: {[r.text for r in replies]}"
        await check_case(user, expect, where)
        for fragment in expect.get("reply_contains", []):
            assert any(fragment in r.text for r in replies), f"{where}: no {fragment!r} in reply"
        for action in expect.get("buttons", []):
            offered = [b.action for r in replies for b in r.buttons]
            assert action in offered, f"{where}: no button {action!r} among {offered}"


async def check_case(user: Conversation, expect: dict[str, Any], where: str) -> None:
    if "case" in expect:
        assert await user.case_state() == expect["case"], f"{where}: case"
    if "status" in expect:
        assert await user.case_status() == expect["status"], f"{where}: case status"


def test_there_are_enough_scenarios() -> None:
    assert len(SCENARIOS) >= 30
    languages = {load(p).get("hint") for p in SCENARIOS}
    assert {"pl", "uk", "ru", "en"} <= languages
