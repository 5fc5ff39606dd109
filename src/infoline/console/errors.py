"""What stops the console from starting."""

from __future__ import annotations


class ConsoleError(Exception):
    """Base of the console's errors."""


class ConsoleSetupError(ConsoleError, ValueError):
    """The console cannot start; the message is one sentence for a person."""
