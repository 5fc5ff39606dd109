"""The session key: configured, or generated once into var/ readable by its owner only."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from infoline.console.errors import ConsoleSetupError
from infoline.console.keys import KEY_FILE, session_key


def test_the_embedded_default_keeps_one_key_for_restarts(tmp_path: Path) -> None:
    var = tmp_path / "var"
    first = session_key("", var, embedded=True)
    assert stat.S_IMODE((var / KEY_FILE).stat().st_mode) == 0o600
    assert session_key("", var, embedded=True) == first
    Fernet(first)


def test_a_configured_key_wins(tmp_path: Path) -> None:
    key = Fernet.generate_key()
    assert session_key(key.decode() + "\n", tmp_path, embedded=True) == key
    assert not (tmp_path / KEY_FILE).exists()


def test_postgresql_needs_a_configured_key(tmp_path: Path) -> None:
    with pytest.raises(ConsoleSetupError, match="INFOLINE_CONSOLE_SESSION_KEY must be set"):
        session_key("", tmp_path, embedded=False)


def test_a_key_that_is_not_a_fernet_key_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConsoleSetupError, match="not a Fernet key"):
        session_key("secret", tmp_path, embedded=True)
