"""Training runs only when the training data or the pipeline changed."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from infoline import app
from infoline.config import Settings
from infoline.nlu.training import TrainingInputs, current_model, train


def test_fingerprint_follows_data_and_pipeline(settings: Settings, tmp_path: Path) -> None:
    inputs = app.training_inputs(settings)
    copy = TrainingInputs(tmp_path / "nlu", tmp_path / "data")
    shutil.copytree(inputs.project, copy.project, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(inputs.data, copy.data)
    first = copy.fingerprint()
    assert copy.fingerprint() == first
    data_file = next(copy.data.glob("*.yml"))
    data_file.write_text(data_file.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    second = copy.fingerprint()
    assert second != first
    (copy.project / "config.yml").write_text("# changed\n", encoding="utf-8")
    assert copy.fingerprint() not in (first, second)
    (copy.project / "notes.md").write_text("not an input", encoding="utf-8")
    assert len({first, second, copy.fingerprint()}) == 3


def test_up_to_date_model_is_not_retrained(settings: Settings) -> None:
    env = app.rasa_environment(settings)
    before = current_model(env.models)
    assert before is not None, "make test trains the model before the tests"
    started = time.monotonic()
    model, trained = train(env, app.training_inputs(settings))
    assert not trained and model == before
    assert time.monotonic() - started < 5
