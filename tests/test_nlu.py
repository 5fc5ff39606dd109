"""The NLU client against the real Rasa server, and its errors when the server fails."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web

from infoline.nlu.client import NluClient, NluResult
from infoline.nlu.errors import NluUnavailable
from infoline.nlu.server import RasaServer
from tests.support.net import FakeRasa, Handler, free_port, run_infoline

pytestmark = pytest.mark.nlu

INFOLINE = Path(sys.executable).with_name("infoline")


@pytest.mark.parametrize(
    ("text", "topic", "language"),
    [
        ("Де можна зробити PESEL UKR для дитини?", "legal_stay_ukraine", "uk"),
        ("Где можно сделать PESEL UKR для ребенка?", "legal_stay_ukraine", "ru"),
        ("gdzie moge dostac karte pobytu czasowego", "residence_permit", "pl"),
        ("Where can I get a residence card in Poland?", "residence_permit", "en"),
        ("shcho robyty yakshcho robotodavets ne platyt", "work", "uk"),
        ("chto delat esli rabotodatel ne platit zarplatu", "work", "ru"),
        ("szef zabral nam paszporty i nie pozwala wyjsc z hostelu", "emergency", "pl"),
    ],
)
async def test_parse_returns_topic_and_language(
    nlu: NluClient, text: str, topic: str, language: str
) -> None:
    result = await nlu.parse(text)
    assert isinstance(result, NluResult)
    assert (result.topic, result.language) == (topic, language)
    assert 0 < result.confidence <= 1 and 0 < result.language_confidence <= 1
    assert result.ranking[0].topic == topic and len(result.ranking) >= 5
    assert result.entities == ()


@pytest.mark.parametrize("text", ["", "   ", "🙏🙏🙏", "12345 ???", "\x00\x01\x02"])
async def test_text_without_letters_has_no_confident_language(nlu: NluClient, text: str) -> None:
    result = await nlu.parse(text)
    assert result.language == "other" and result.language_confidence == 0.0


async def test_other_script_is_other_language(nlu: NluClient) -> None:
    result = await nlu.parse("أحتاج إلى مساعدة في العثور على عمل")
    assert result.language == "other" and result.language_confidence == 1.0


async def test_huge_message_is_classified_on_its_beginning(nlu: NluClient) -> None:
    text = "Szukam pracy w Krakowie, czy moge pracowac na PESEL UKR? " + "bla " * 25_000
    result = await nlu.parse(text)
    assert result.topic is not None and result.language == "pl"


async def test_down_server_is_nlu_unavailable() -> None:
    async with NluClient(f"http://127.0.0.1:{free_port()}", timeout=2, max_chars=100) as client:
        with pytest.raises(NluUnavailable) as caught:
            await client.parse("hello")
    assert isinstance(caught.value, ConnectionError)


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(3)
    return web.json_response({})


async def _error(request: web.Request) -> web.Response:
    return web.Response(status=500, text="Internal Server Error")


async def _not_json(request: web.Request) -> web.Response:
    return web.Response(text="<html>proxy error</html>", content_type="text/html")


async def _wrong_shape(request: web.Request) -> web.Response:
    return web.json_response({"intent_ranking": [{"nom": "work"}]})


@pytest.mark.parametrize("handler", [_slow, _error, _not_json, _wrong_shape])
async def test_failing_server_is_nlu_unavailable(fake_rasa: FakeRasa, handler: Handler) -> None:
    url = await fake_rasa(handler)
    async with NluClient(url, timeout=0.5, max_chars=100) as client:
        with pytest.raises(NluUnavailable):
            await client.parse("hello")


def _infoline(server: RasaServer, *args: str) -> subprocess.CompletedProcess[str]:
    return run_infoline(*args, env={"INFOLINE_NLU_URL": server.url, "INFOLINE_NLU_MANAGE": "false"})


def test_eval_command_prints_the_report(nlu_server: RasaServer, tmp_path: Path) -> None:
    rows = [
        {"text": "Де можна зробити PESEL UKR?", "lang": "uk", "topic": "legal_stay_ukraine"},
        {"text": "мене б'є чоловік, мені страшно", "lang": "uk", "topic": "emergency"},
        {
            "text": "What's the weather tomorrow?",
            "lang": "EN",
            "topic": "out_of_scope",
            "source": "extra keys are ignored",
        },
        {"text": "dzien dobry", "lang": "pl", "topic": "greet"},
    ]
    path = tmp_path / "eval.jsonl"
    path.write_text(
        "\ufeff" + "\r\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n"
    )
    done = _infoline(nlu_server, "nlu", "eval", str(path))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["n"] == 4 and set(result["by_lang"]) == {"pl", "uk", "en"}
    assert set(result) == {
        "n",
        "intent_accuracy",
        "macro_f1",
        "langid_accuracy",
        "emergency_recall",
        "out_of_scope_f1",
        "by_lang",
        "by_topic",
        "confusions",
        "skipped_lines",
    }
    assert set(result["by_lang"]["uk"]) == {"n", "intent_accuracy", "macro_f1", "langid_accuracy"}
    assert set(result["by_topic"]["greet"]) == {"precision", "recall", "f1"}
    assert result["emergency_recall"] == 1.0 and result["langid_accuracy"] == 1.0


def test_eval_command_skips_bad_lines_and_says_which(
    nlu_server: RasaServer, tmp_path: Path
) -> None:
    path = tmp_path / "eval.jsonl"
    lines = [
        '{"text": "dzien dobry", "lang": "pl", "topic": "greet"}',
        "not json",
        '{"text": "hi", "lang": "en", "topic": "weather"}',
        '{"lang": "en", "topic": "greet"}',
        '["a", "list"]',
        '{"text": "Хочу поговорити з оператором", "lang": "uk", "topic": " Request_Human "}',
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    done = _infoline(nlu_server, "nlu", "eval", str(path))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["n"] == 2 and result["skipped_lines"] == 4
    for expected in (
        "line 2: not JSON",
        "line 3: 'topic' 'weather'",
        "line 4: 'text' must be a string",
        "line 5: not a JSON object",
    ):
        assert expected in done.stderr


@pytest.mark.parametrize("content", ["", "\n\n", "garbage\n", "\x00\xff\xfe"])
def test_eval_command_refuses_a_file_without_cases(
    nlu_server: RasaServer, tmp_path: Path, content: str
) -> None:
    path = tmp_path / "eval.jsonl"
    path.write_bytes(content.encode("latin-1"))
    done = _infoline(nlu_server, "nlu", "eval", str(path))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("infoline: ") and done.stderr.count("\n") == 1


def test_eval_command_names_a_missing_file(nlu_server: RasaServer, tmp_path: Path) -> None:
    done = _infoline(nlu_server, "nlu", "eval", str(tmp_path / "nope.jsonl"))
    assert done.returncode == 2 and "Cannot read" in done.stderr
