"""Errors of the NLU side."""

from __future__ import annotations


class NluError(Exception):
    """Base of every NLU error."""


class NluUnavailable(NluError, ConnectionError):
    """The NLU server is down, too slow, or answered something that is not a parse result."""


class NluSetupError(NluError):
    """The NLU environment, training data or model is missing or broken."""
