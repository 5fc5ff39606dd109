"""The `infoline` command."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from infoline import app
from infoline.config import ConfigError, Settings, load_settings
from infoline.console.errors import ConsoleSetupError
from infoline.core.kb import KnowledgeBaseError
from infoline.core.ports import ChannelSetupError
from infoline.handoff import consultants
from infoline.handoff.errors import HandoffError, InvalidInput
from infoline.handoff.records import Consultant
from infoline.nlu.errors import NluError
from infoline.nlu.evaluation import (
    EvaluationInputError,
    Outcome,
    read_cases,
    report,
    run_cases,
)
from infoline.nlu.training import train
from infoline.store.privacy import erase_contact

EXIT_USAGE = 2
EXIT_FAILURE = 1


def _run(settings: Settings, args: argparse.Namespace) -> int:
    asyncio.run(app.serve(settings, sys.stderr.isatty(), os.environ))
    return 0


def _chat(settings: Settings, args: argparse.Namespace) -> int:
    asyncio.run(app.converse(settings, args.user, args.language_hint))
    return 0


def _retention(settings: Settings, args: argparse.Namespace) -> int:
    deleted = asyncio.run(app.retention(settings))
    print(f"deleted {deleted} conversations idle for over {settings.privacy.retention_days} days")
    return 0


def _erase(settings: Settings, args: argparse.Namespace) -> int:
    async def go() -> bool:
        async with app.database(settings) as db:
            return await erase_contact(db, args.channel, args.address, actor="command line")

    if not asyncio.run(go()):
        print(f"infoline: no contact {args.address!r} on {args.channel}", file=sys.stderr)
        return EXIT_FAILURE
    print("erased: message texts and personal data removed, anonymous counts kept")
    return 0


def _read_password(from_stdin: bool) -> str:
    """Read a new password: the first line of stdin, or asked twice on a terminal."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise InvalidInput("no terminal to ask for the password on; use --password-stdin")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != password:
        raise InvalidInput("the two passwords differ")
    return password


def _consultant_add(settings: Settings, args: argparse.Namespace) -> int:
    password = _read_password(args.password_stdin)

    async def go() -> Consultant:
        async with app.database(settings) as db:
            return await consultants.add(
                db,
                args.username,
                password,
                display_name=args.name,
                languages=args.languages.split(","),
                role=args.role,
            )

    made = asyncio.run(go())
    print(f"added {made.role} {made.username} ({', '.join(made.languages)})")
    return 0


def _consultant_list(settings: Settings, args: argparse.Namespace) -> int:
    async def go() -> list[Consultant]:
        async with app.database(settings) as db:
            return await consultants.list_all(db)

    for c in asyncio.run(go()):
        state = "disabled" if c.disabled else "available" if c.available else "away"
        print(f"{c.username}\t{c.display_name}\t{c.role}\t{','.join(c.languages)}\t{state}")
    return 0


def _consultant_disable(settings: Settings, args: argparse.Namespace) -> int:
    async def go() -> None:
        async with app.database(settings) as db:
            await consultants.disable(db, args.username, actor="command line")

    asyncio.run(go())
    print(f"disabled {args.username}; their open cases are back in the queue")
    return 0


def _train(settings: Settings, args: argparse.Namespace) -> int:
    model, trained = train(
        app.rasa_environment(settings),
        app.training_inputs(settings),
        force=args.force,
        show_progress=sys.stderr.isatty(),
    )
    state = f"trained in {model.seconds} s" if trained else "up to date, not retrained"
    print(f"{model.path}: {state} ({model.examples} examples)")
    return 0


def _parse(settings: Settings, args: argparse.Namespace) -> int:
    async def go() -> None:
        async with app.nlu_server(settings), app.nlu_client(settings) as client:
            for text in args.text:
                print(json.dumps(asdict(await client.parse(text)), ensure_ascii=False))

    asyncio.run(go())
    return 0


def _evaluate(settings: Settings, args: argparse.Namespace) -> int:
    cases, skipped = read_cases(Path(args.file), app.topics(settings).ids())
    for problem in skipped[:20]:
        print(f"infoline: skipped {problem}", file=sys.stderr)
    if len(skipped) > 20:
        print(f"infoline: skipped {len(skipped) - 20} more lines", file=sys.stderr)

    async def go() -> list[Outcome]:
        async with app.nlu_server(settings), app.nlu_client(settings) as client:
            return await run_cases(client, cases, settings.nlu.urgent_threshold)

    print(json.dumps(report(asyncio.run(go()), len(skipped)), ensure_ascii=False))
    return 0


def _kb_check(settings: Settings, args: argparse.Namespace) -> int:
    contract = app.topics(settings)
    problems = app.knowledge_base(settings).problems(
        contract.with_answers(), contract.languages, app.contacts(settings)
    )
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problems" if problems else "knowledge base complete")
    return EXIT_FAILURE if problems else 0


def _kb_stale(settings: Settings, args: argparse.Namespace) -> int:
    today = dt.date.fromisoformat(args.today) if args.today else dt.date.today()
    stale = app.knowledge_base(settings).stale(settings.kb.max_age_days, today)
    for entry in stale:
        print(
            f"{entry.topic}\treviewed {entry.reviewed.isoformat()}\t"
            f"{(today - entry.reviewed).days} days ago"
        )
    if not stale:
        print(f"every answer was reviewed within {settings.kb.max_age_days} days")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Describe the command line."""
    parser = argparse.ArgumentParser(prog="infoline", description=__doc__)
    parser.add_argument(
        "--config",
        type=Path,
        default=Path(os.environ.get("INFOLINE_CONFIG", "config.yml")),
        help="configuration file (default: config.yml, or $INFOLINE_CONFIG)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(
        name: str,
        handler: Callable[[Settings, argparse.Namespace], int],
        help: str,
        sub: argparse._SubParsersAction[argparse.ArgumentParser] = commands,
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, help=help, description=help)
        p.set_defaults(handler=handler)
        return p

    command("run", _run, "run the infoline: train if needed, start the NLU server, serve")
    talk = command("chat", _chat, "talk to the assistant in this terminal (no account needed)")
    talk.add_argument("--user", default="terminal-user", help="who you are in the store")
    talk.add_argument("--language-hint", help="what a channel would report, e.g. uk")
    command("retention", _retention, "delete conversations idle longer than privacy.retention_days")
    erase = command("erase", _erase, "erase a contact's texts and personal data")
    erase.add_argument("--channel", required=True)
    erase.add_argument("--address", required=True)
    command("train", _train, "train the NLU model if its data or pipeline changed").add_argument(
        "--force", action="store_true", help="train even when the model is up to date"
    )
    nlu = commands.add_parser("nlu", help="the NLU server").add_subparsers(
        dest="nlu", required=True
    )
    command("parse", _parse, "classify texts and print the results", nlu).add_argument(
        "text", nargs="+"
    )
    command(
        "eval", _evaluate, "evaluate on a JSON Lines file of text, lang and topic", nlu
    ).add_argument("file")
    kb = commands.add_parser("kb", help="the knowledge base").add_subparsers(
        dest="kb", required=True
    )
    command("check", _kb_check, "list missing, overlong or unsafe answers", kb)
    command(
        "stale", _kb_stale, "list answers whose review is older than kb.max_age_days", kb
    ).add_argument("--today", help="the date to count from (YYYY-MM-DD)")
    people = commands.add_parser("consultant", help="console accounts").add_subparsers(
        dest="consultant", required=True
    )
    add = command("add", _consultant_add, "add a consultant or supervisor", people)
    add.add_argument("username")
    add.add_argument("--name", help="the name colleagues see (default: the user name)")
    add.add_argument("--languages", default="pl", help="languages answered, e.g. pl,uk")
    add.add_argument("--role", choices=consultants.ROLES, default="consultant")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    command("list", _consultant_list, "list the console accounts", people)
    command(
        "disable",
        _consultant_disable,
        "stop an account; its open cases return to the queue",
        people,
    ).add_argument("username")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as err:
        print(f"infoline: {err}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(
        level=settings.app.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.handler(settings, args))
    except (EvaluationInputError, KnowledgeBaseError) as err:
        print(f"infoline: {err}", file=sys.stderr)
        return EXIT_USAGE
    except HandoffError as err:
        print(f"infoline: {err}", file=sys.stderr)
        return EXIT_FAILURE
    except (NluError, ChannelSetupError, ConsoleSetupError) as err:
        print(f"infoline: {err}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
