"""What can go wrong on the consultant side, each also the matching built-in error."""

from __future__ import annotations


class HandoffError(Exception):
    """Base of the consultant side's errors; the message is one sentence for a person."""


class CaseNotFound(HandoffError, LookupError):
    """No case (or attachment) with that id."""


class UnknownConsultant(HandoffError, LookupError):
    """No consultant with that user name, or a disabled one where an active one is needed."""


class InvalidInput(HandoffError, ValueError):
    """A value the consultant side refuses: an unknown language, an empty password, ..."""


class ConsultantExists(HandoffError, ValueError):
    """The user name is taken."""


class NotAllowed(HandoffError, PermissionError):
    """The consultant may not do this to this case (not theirs, not their language, ...)."""


class CaseClosed(HandoffError, ValueError):
    """The case is resolved, or its contact erased: nothing more can be sent."""
