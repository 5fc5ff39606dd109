"""Benchmark the mailbox channel. For now: the parser, over the corpus and over big mail.

Usage: .venv/bin/python -m bench.mailbox [--rounds N]
Prints one JSON object: {"parser": {...}}. The corpus (tests/mail/corpus) is parsed N
times; the big mails, made here as the tests make them, are reported one by one.
"""

from __future__ import annotations

import argparse
import json
import time

from bench.nlu import percentile
from infoline.mailbox.parse import parse_mail
from tests.mail.corpus import CORPUS, MAX_ATTACHMENT_BYTES, MAX_BYTES, OWN_ADDRESS, big_mail


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


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__)
    arguments.add_argument("--rounds", type=int, default=5, help="passes over the corpus")
    args = arguments.parse_args()
    print(json.dumps({"parser": parser(args.rounds)}))


if __name__ == "__main__":
    main()
