"""The SMTP sink that tests send mail to: it keeps what it accepts and refuses on demand."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib
import pytest

from tests.support.mailservers import SmtpSink


def message(subject: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "infoline@example.org"
    mail["To"] = "person@example.net"
    mail["Subject"] = subject
    mail.set_content("Привіт")
    return mail


async def test_the_sink_keeps_mail_and_refuses_on_demand(smtp_sink: SmtpSink) -> None:
    await aiosmtplib.send(message("first"), hostname=smtp_sink.host, port=smtp_sink.port)
    smtp_sink.refuse(451)
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await aiosmtplib.send(message("refused"), hostname=smtp_sink.host, port=smtp_sink.port)
    assert [error.code for error in refused.value.recipients] == [451]
    smtp_sink.accept()
    await aiosmtplib.send(message("second"), hostname=smtp_sink.host, port=smtp_sink.port)
    received = await smtp_sink.wait_for(2)
    assert [r.message["Subject"] for r in received] == ["first", "second"]
    assert received[0].mail_from == "infoline@example.org"
    assert received[0].rcpt_tos == ("person@example.net",)
    body = received[0].message.get_body()
    assert body is not None
    assert body.get_content().strip() == "Привіт"
    with pytest.raises(TimeoutError):
        await smtp_sink.wait_for(3, timeout=0.2)
