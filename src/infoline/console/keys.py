"""The key that encrypts session cookies: from the environment, or kept in var/."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet

from infoline.console.errors import ConsoleSetupError

log = logging.getLogger(__name__)
KEY_VARIABLE = "INFOLINE_CONSOLE_SESSION_KEY"
KEY_FILE = "console-session.key"


def session_key(configured: str, var_dir: Path, embedded: bool) -> bytes:
    """Return the Fernet key for session cookies.

    A configured key wins. Without one, the embedded (SQLite, one process) set-up gets a
    key generated once and kept in `var_dir` readable by its owner only, so logins survive
    restarts; a PostgreSQL set-up may run several console processes, which must share one
    key, so there it has to be configured.
    """
    if configured.strip():
        return _checked(configured.strip().encode("ascii", "replace"), KEY_VARIABLE)
    if not embedded:
        raise ConsoleSetupError(
            f"{KEY_VARIABLE} must be set when the database is PostgreSQL (every console "
            "process needs the same key); make one with: python -c 'from "
            "cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        )
    path = var_dir / KEY_FILE
    if path.exists():
        return _checked(path.read_bytes().strip(), str(path))
    var_dir.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    # O_EXCL: two processes starting at once must not overwrite each other's key.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key + b"\n")
    log.info("Generated the console's session key in %s", path)
    return key


def _checked(key: bytes, source: str) -> bytes:
    try:
        Fernet(key)
    except ValueError as err:
        raise ConsoleSetupError(
            f"The console session key in {source} is not a Fernet key (32 random bytes in "
            "URL-safe base64, 44 characters)."
        ) from err
    return key
