"""What the core needs from the outside: channels that deliver, and an NLU that classifies."""

from __future__ import annotations

from typing import Protocol

from infoline.core.messages import Outgoing
from infoline.nlu.client import NluResult


class ChannelSetupError(Exception):
    """A channel cannot work with its settings (a refused token or login): one sentence."""


class DeliveryError(Exception):
    """A channel could not deliver a message."""


class TemporaryDeliveryError(DeliveryError, ConnectionError):
    """Worth trying again later: network errors, rate limits, a server refusing for a while."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """Trying again cannot help: the user blocked us, the address does not exist."""

    def __init__(self, message: str, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


class Channel(Protocol):
    """Delivers outgoing messages on one channel."""

    name: str

    async def send(self, message: Outgoing) -> None:
        """Deliver one message or raise a DeliveryError."""


class Classifier(Protocol):
    """Classifies one text (the NLU client)."""

    async def parse(self, text: str) -> NluResult:
        """Return the NLU result or raise NluUnavailable."""
