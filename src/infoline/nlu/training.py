"""Train the NLU model when its inputs changed, and remember what it was trained on."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from infoline.nlu.errors import NluSetupError
from infoline.nlu.server import RasaEnvironment

MODEL_NAME = "infoline-nlu"


@dataclass(frozen=True, slots=True)
class TrainingInputs:
    """The files a model is trained from: the Rasa project and the training data."""

    project: Path
    data: Path

    def files(self) -> list[Path]:
        """Return every input file in a stable order."""
        patterns = [(self.project, "*.yml"), (self.project, "*.py"), (self.project, "*.txt"),
                    (self.data, "*.yml")]
        found = {p for root, pattern in patterns for p in root.rglob(pattern) if p.is_file()}
        return sorted(found, key=lambda p: p.as_posix())

    def fingerprint(self) -> str:
        """Hash the names and contents of the input files."""
        digest = hashlib.sha256()
        for path in self.files():
            digest.update(path.as_posix().encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")
        return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class TrainedModel:
    """A model file and the record written beside it."""

    path: Path
    fingerprint: str
    seconds: float
    examples: int


def model_path(models: Path) -> Path:
    """Return where the current model lives."""
    return models / f"{MODEL_NAME}.tar.gz"


def _record_path(models: Path) -> Path:
    return models / f"{MODEL_NAME}.json"


def current_model(models: Path) -> TrainedModel | None:
    """Return the trained model and its record, or None when there is none."""
    path, record = model_path(models), _record_path(models)
    if not path.exists() or not record.exists():
        return None
    data = json.loads(record.read_text())
    return TrainedModel(path, data["fingerprint"], data["seconds"], data["examples"])


def count_examples(data: Path) -> int:
    """Count the training examples in the Rasa YAML files under `data`."""
    total = 0
    for path in data.rglob("*.yml"):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            examples = block.get("examples") or ""
            total += sum(1 for line in examples.splitlines() if line.strip().startswith("- "))
    return total


def train(
    env: RasaEnvironment, inputs: TrainingInputs, force: bool = False, show_progress: bool = False
) -> tuple[TrainedModel, bool]:
    """Train unless the model is up to date; return the model and whether it was trained."""
    env.check()
    fingerprint = inputs.fingerprint()
    existing = current_model(env.models)
    if existing is not None and existing.fingerprint == fingerprint and not force:
        return existing, False
    config = inputs.project / "config.yml"
    if not config.exists() or not any(inputs.data.rglob("*.yml")):
        raise NluSetupError(f"Training needs {config} and training data under {inputs.data}.")
    env.models.mkdir(parents=True, exist_ok=True)
    log_path = env.models / f"{MODEL_NAME}.train.log"
    command = [
        str(env.rasa), "train", "nlu", "--config", str(config), "--nlu", str(inputs.data),
        "--out", str(env.models), "--fixed-model-name", MODEL_NAME,
    ]
    started = time.monotonic()
    with log_path.open("wb") as log_file:
        # At a terminal the person sees Rasa's own progress; elsewhere it goes to the log.
        output = None if show_progress else log_file
        result = subprocess.run(command, stdout=output, stderr=output, env=env.environ(),
                                check=False)
    seconds = round(time.monotonic() - started, 1)
    if result.returncode != 0:
        where = "above" if show_progress else f"in {log_path}"
        raise NluSetupError(f"Training failed (exit code {result.returncode}); see {where}.")
    model = TrainedModel(model_path(env.models), fingerprint, seconds, count_examples(inputs.data))
    _record_path(env.models).write_text(
        json.dumps({"fingerprint": fingerprint, "seconds": seconds, "examples": model.examples,
                    "python": sys.version.split()[0]}, indent=2)
    )
    return model, True
