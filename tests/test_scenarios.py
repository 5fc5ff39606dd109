"""Conversations as data: tests/scenarios/*.yml through the real engine, NLU and store.

Each turn sends one message (text, a command, feedback or unreadable content) and
checks the topic the assistant acted on, the language of its replies, how many replies
it sent and the state of the conversation's case. Every scenario runs on SQLite and on
PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from infoline.app import Assistant
from infoline.config import Settings
from infoline.core.messages import Attachment, Inbound
from infoline.nlu.client import NluClient
from infoline.store.repository import OPEN_CASE_STATES
from infoline.store.schema import Case, Message
from tests.support.channels import RecordingChannel, recording_assistant
from tests.support.databases import BACKENDS, fresh_database

pytestmark = pytest.mark.nlu
SCENARIOS = sorted((Path(__file__).parent / "scenarios").glob("*.yml"))
TURN_KEYS = {"say", "command", "argument", "kind", "feedback", "hint", "expect"}
EXPECT_KEYS = {"topic", "reply_language", "case", "replies", "reply_contains", "buttons"}


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
        assert set(turn) <= TURN_KEYS and set(turn.get("expect", {})) <= EXPECT_KEYS, turn
        assert isinstance(turn.get("say", ""), str), (
            f"{path}: quote {turn['say']!r} (YAML reads it as a bool)"
        )
    return scenario


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
async def test_scenario(path: Path, assistant: tuple[Assistant, RecordingChannel]) -> None:
    scenario = load(path)
    user = Conversation(*assistant, address=f"user-{uuid.uuid4().hex[:8]}")
    for number, turn in enumerate(scenario["turns"], 1):
        message, replies = await user.send(turn, scenario.get("hint"))
        expect = turn.get("expect", {})
        where = f"{path.name} turn {number} ({turn.get('say') or turn})"
        if "topic" in expect:
            assert message.topic == expect["topic"], f"{where}: topic {message.topic}"
        if "reply_language" in expect:
            assert replies, f"{where}: no reply"
            languages = {r.language for r in replies}
            assert languages == {expect["reply_language"]}, f"{where}: replied in {languages}"
        if "replies" in expect:
            assert len(replies) == expect["replies"], f"{where}: {[r.text for r in replies]}"
        if "case" in expect:
            assert await user.case_state() == expect["case"], f"{where}: case"
        for fragment in expect.get("reply_contains", []):
            assert any(fragment in r.text for r in replies), f"{where}: no {fragment!r} in reply"
        for action in expect.get("buttons", []):
            offered = [b.action for r in replies for b in r.buttons]
            assert action in offered, f"{where}: no button {action!r} among {offered}"


def test_there_are_enough_scenarios() -> None:
    assert len(SCENARIOS) >= 30
    languages = {load(p).get("hint") for p in SCENARIOS}
    assert {"pl", "uk", "ru", "en"} <= languages
