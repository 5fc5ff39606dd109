"""`infoline chat`: a newcomer talks to the real assistant from the terminal."""

from __future__ import annotations

from pathlib import Path

import pytest

from infoline.nlu.server import RasaServer
from tests.support.net import run_infoline

pytestmark = pytest.mark.nlu


def test_terminal_conversation(nlu_server: RasaServer, tmp_path: Path) -> None:
    env = {
        "INFOLINE_NLU_URL": nlu_server.url,
        "INFOLINE_NLU_MANAGE": "false",
        "INFOLINE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}",
    }
    typed = "\n".join(
        [
            "Добрий день",
            "Де можна зробити PESEL UKR?",
            "/language pl",
            "Where can I find a job in Gdansk?",
            "/human",
            "hello? is anyone there?",
            "/forget",
            "/quit",
        ]
    )
    done = run_infoline("chat", env=env, stdin=typed)
    assert done.returncode == 0, done.stderr
    replies = [line for line in done.stdout.splitlines() if line.startswith("assistant (")]
    languages = [line[len("assistant (") : len("assistant (") + 2] for line in replies]
    # greeting, answer, language set, answer in Polish, case opened, nothing while the case
    # is open, erasure confirmed
    assert languages == ["uk", "uk", "pl", "pl", "pl", "pl"], done.stdout
    assert "PESEL" in done.stdout
    assert "Twoje wiadomości i dane osobowe zostały usunięte" in replies[-1], done.stdout
