"""Benchmark the mailbox channel: end to end, and the parser alone.

Usage: .venv/bin/python -m bench.mailbox [--rounds N] [--parser-only]
Prints one JSON object. "end_to_end": 100 and 1,000 mails put into a private Dovecot with
IMAP APPEND before the channel starts, then read by the poller, answered through the
engine, the real NLU server and SQLite, and caught by an aiosmtpd server: mails/s from
the start to the last first reply. "parser": the corpus (tests/mail/corpus) parsed N
times, and the big mails, made as the tests make them, one by one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from bench.nlu import held_out_texts, percentile
from infoline.config import load_settings
from infoline.mailbox.parse import parse_mail
from infoline.nlu.client import NluClient
from tests.mail.corpus import CORPUS, MAX_ATTACHMENT_BYTES, MAX_BYTES, OWN_ADDRESS, big_mail
from tests.support.mailbox import mail, mail_rig, new_account
from tests.support.mailservers import Dovecot, SmtpSink
from tests.support.net import ROOT
from tests.support.rasa import private_server


def big_mails() -> dict[str, tuple[bytes, int]]:
    """Name -> (raw mail, max_bytes): the sizes the corpus leaves to run time."""
    html = "<p>" + "Wniosek o kartę pobytu, <b>termin</b> i opłata. " * 40_000 + "</p>"
    return {
        "attachment_20mb": (big_mail(20_000_000), 2 * MAX_BYTES),
        "over_limit_30mb": (big_mail(22_000_000), MAX_BYTES),
        "text_1mb": (big_mail(10, text="Długi tekst o pracy. " * 50_000), MAX_BYTES),
        "html_2mb": (big_mail(10, text=html, subtype="html"), MAX_BYTES),
    }


def timed(raw: bytes, max_bytes: int = MAX_BYTES) -> float:
    """Return how long parsing one mail takes, in seconds."""
    started = time.perf_counter()
    parse_mail(raw, OWN_ADDRESS, max_bytes, MAX_ATTACHMENT_BYTES)
    return time.perf_counter() - started


def parser(rounds: int) -> dict[str, object]:
    """Parse the corpus `rounds` times, then each big mail once; return the figures."""
    mails = [path.read_bytes() for path in sorted(CORPUS.glob("*.eml"))]
    timed(mails[0])  # warm-up: imports and compiled patterns
    latencies = [timed(raw) for _ in range(rounds) for raw in mails]
    big = {
        name: {"bytes": len(raw), "ms": round(timed(raw, limit) * 1000)}
        for name, (raw, limit) in big_mails().items()
    }
    return {
        "mails": len(latencies),
        "mails_per_s": round(len(latencies) / sum(latencies), 1),
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "max_ms": percentile(latencies, 100),
        "big": big,
    }


async def queued(
    client: NluClient, dovecot: Dovecot, texts: list[str], count: int, folder: Path
) -> dict[str, float]:
    """Queue `count` mails, then start the channel; time until each has its first reply."""
    settings = load_settings(ROOT / "config.yml", environ={})
    address = new_account(dovecot)
    raws = [
        mail(f"writer{n}@example.com", address, "Pytanie", texts[n % len(texts)])[1]
        for n in range(count)
    ]
    await dovecot.append_many(address, raws)
    sink = SmtpSink()
    sink.start()
    try:
        started = time.perf_counter()
        async with mail_rig(settings, client, dovecot, sink, folder, address=address):
            # A mail may get two replies (a case is opened, and it says so): count senders.
            while len({r.rcpt_tos for r in sink.received}) < count:
                await sink.wait_for(len(sink.received) + 1, timeout=120)
            elapsed = time.perf_counter() - started
    finally:
        sink.stop()
    return {"mails": count, "mails_per_s": round(count / elapsed, 1), "seconds": round(elapsed, 1)}


async def end_to_end() -> dict[str, object]:
    settings = load_settings(ROOT / "config.yml", environ={})
    texts = held_out_texts()
    result: dict[str, object] = {}
    async with (
        private_server(settings) as server,
        NluClient(server.url, timeout=30, max_chars=settings.nlu.max_chars) as client,
    ):
        with Dovecot() as dovecot, tempfile.TemporaryDirectory() as folder:
            for count in (100, 1000):
                run = Path(folder) / f"queued-{count}"
                run.mkdir()
                result[f"queued_{count}"] = await queued(client, dovecot, texts, count, run)
    return result


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__)
    arguments.add_argument("--rounds", type=int, default=5, help="passes over the corpus")
    arguments.add_argument("--parser-only", action="store_true", help="skip end to end")
    args = arguments.parse_args()
    result: dict[str, object] = {}
    if not args.parser_only:
        result["end_to_end"] = asyncio.run(end_to_end())
    result["parser"] = parser(args.rounds)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
