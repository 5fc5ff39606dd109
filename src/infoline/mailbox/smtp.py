"""Sending replies by SMTP: a threaded reply composed from what the inbound mail left in
its details, and the server's answers sorted into the outbox's two kinds of failure."""

from __future__ import annotations

import ssl

import aiosmtplib

from infoline.config import MailboxSettings
from infoline.core.messages import Outgoing
from infoline.core.ports import PermanentDeliveryError, TemporaryDeliveryError
from infoline.mailbox.compose import compose_reply

CHANNEL = "email"


class MailChannel:
    """Delivers outbox messages as e-mail replies in the sender's thread."""

    name = CHANNEL

    def __init__(
        self,
        settings: MailboxSettings,
        password: str,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 60.0,
    ) -> None:
        self._settings = settings
        self._password = password
        self._ssl_context = ssl_context
        self._timeout = timeout

    async def send(self, message: Outgoing) -> None:
        # The inbound mail's threading details; a first word from a consultant has none.
        context = message.reply_to.get("reply_context") or {"reply_address": message.address}
        try:
            mail = compose_reply(
                context,
                message.text,
                from_address=self._settings.address,
                language=message.language,
                automatic=message.automatic,
            )
        except ValueError as err:
            raise PermanentDeliveryError(f"cannot reply: {err}", unreachable=True) from err
        s = self._settings
        try:
            await aiosmtplib.send(
                mail,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_user or None,
                password=self._password or None,
                use_tls=s.smtp_security == "ssl",
                start_tls=s.smtp_security == "starttls",
                tls_context=self._ssl_context,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as err:
            codes = [refused.code for refused in err.recipients]
            raise _by_code(min(codes), f"recipient refused: {err.recipients[0].message}") from err
        except aiosmtplib.SMTPResponseException as err:
            raise _by_code(err.code, f"SMTP server said {err.code} {err.message}") from err
        except (aiosmtplib.SMTPException, OSError) as err:
            raise TemporaryDeliveryError(f"SMTP server unreachable: {err}") from err


def _by_code(code: int, text: str) -> PermanentDeliveryError | TemporaryDeliveryError:
    """5xx is final (RFC 5321); 4xx and anything odd is worth another try."""
    if 500 <= code < 600:
        return PermanentDeliveryError(text, unreachable=code in (550, 551, 553))
    return TemporaryDeliveryError(text)
