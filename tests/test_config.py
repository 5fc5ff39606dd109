"""Settings: defaults, environment overrides, and one clear sentence for a wrong setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from infoline.cli import main
from infoline.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_config_yml_matches_the_defaults() -> None:
    # config.yml documents every setting; it must not drift from the code's defaults.
    from_file = load_settings(ROOT / "config.yml", environ={})
    empty = ROOT / "tests" / "support" / "empty.yml"
    assert from_file.model_dump(exclude={"base_dir"}) == load_settings(
        empty, environ={}
    ).model_dump(exclude={"base_dir"})


def test_environment_overrides_config(tmp_path: Path) -> None:
    path = tmp_path / "config.yml"
    path.write_text("nlu:\n  url: http://127.0.0.1:5005\n  timeout: 5\n")
    settings = load_settings(
        path,
        environ={
            "INFOLINE_NLU_URL": "http://127.0.0.1:6000/",
            "INFOLINE_NLU_TIMEOUT": "1.5",
            "INFOLINE_APP_DEFAULT_LANGUAGE": "pl",
            "INFOLINE_TELEGRAM_TOKEN": "secret, not a setting",
            "HOME": "/root",
        },
    )
    assert settings.nlu.url == "http://127.0.0.1:6000"
    assert settings.nlu.timeout == 1.5
    assert settings.app.default_language == "pl"
    assert settings.path(settings.nlu.models) == tmp_path / "models"


@pytest.mark.parametrize(
    ("text", "environ", "expected"),
    [
        ("nlu:\n  timeout: fast\n", {}, "Setting nlu.timeout (in "),
        ("nlu:\n  url: ftp://host\n", {}, "expected an http:// or https:// URL"),
        ("nlu:\n  timeout: -1\n", {}, "greater than 0"),
        ("nlu:\n  colour: blue\n", {}, "Setting nlu.colour (in "),
        ("{}", {"INFOLINE_NLU_TIMEUT": "3"}, "environment variable INFOLINE_NLU_TIMEUT"),
        ("{}", {"INFOLINE_COLOUR": "blue"}, "names no setting"),
        ("{}", {"INFOLINE_APP_DEFAULT_LANGUAGE": "de"}, "'pl', 'uk', 'ru' or 'en'"),
        ("nlu: [1, 2\n", {}, "is not valid YAML"),
        ("- a list\n", {}, "must hold sections"),
    ],
)
def test_wrong_setting_is_one_clear_sentence(
    tmp_path: Path, text: str, environ: dict[str, str], expected: str
) -> None:
    path = tmp_path / "config.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ=environ)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message and message.endswith(".")


def test_command_line_stops_on_a_wrong_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "other.yml"
    path.write_text("kb:\n  max_age_days: never\n")
    assert main(["--config", str(path), "kb", "stale"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("infoline: Setting kb.max_age_days (in ") and err.count("\n") == 1


def test_command_line_reads_another_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "work.yml").write_text(
        "topic: work\nreviewed: 2020-01-01\nsources: []\nanswers: {en: Hi}\n"
    )
    path = tmp_path / "other.yml"
    path.write_text("kb:\n  path: kb\n  max_age_days: 30\n")
    assert main(["--config", str(path), "kb", "stale", "--today", "2020-03-01"]) == 0
    assert capsys.readouterr().out.startswith("work\treviewed 2020-01-01\t60 days ago")


def test_mailbox_rules_across_settings(tmp_path: Path) -> None:
    path = tmp_path / "config.yml"
    path.write_text(
        "mailbox:\n  address: a@example.org\n  imap_host: mail.example.org\n"
        "  smtp_host: mail.example.org\n  processed_folder: INBOX\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="processed_folder other than imap_folder"):
        load_settings(path, environ={})
    environ = {
        "INFOLINE_MAILBOX_PROCESSED_FOLDER": "Done",
        "INFOLINE_MAILBOX_IMAP_SECURITY": "none",
    }
    with pytest.raises(ConfigError, match=r"only for 127\.0\.0\.1, not mail\.example\.org"):
        load_settings(path, environ=environ)
    no_smtp = {"INFOLINE_MAILBOX_SMTP_HOST": "", "INFOLINE_MAILBOX_PROCESSED_FOLDER": ""}
    with pytest.raises(ConfigError, match="smtp_host as well"):
        load_settings(path, environ=no_smtp)


def test_webhook_mode_needs_its_address(tmp_path: Path) -> None:
    path = tmp_path / "config.yml"
    path.write_text("telegram:\n  mode: webhook\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="webhook_url as well"):
        load_settings(path, environ={})
    http = {"INFOLINE_TELEGRAM_WEBHOOK_URL": "http://bot.example.org/telegram"}
    with pytest.raises(ConfigError, match="an https:// URL"):
        load_settings(path, environ=http)
