"""Train and evaluate candidate NLU pipelines; print JSON with time, size and accuracy.

Usage: .venv/bin/python -m bench.pipelines bench/pipelines/*.yml
Each file is a Rasa pipeline config (with the infoline's language identification). Each is
trained on data/nlu into a temporary folder, served, and evaluated on data/eval/heldout-*.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
from pathlib import Path

from infoline import app
from infoline.config import load_settings
from infoline.nlu.client import NluClient
from infoline.nlu.evaluation import read_cases, report, run_cases
from infoline.nlu.server import RasaEnvironment
from infoline.nlu.training import TrainingInputs, train
from tests.support.net import ROOT
from tests.support.rasa import private_server


async def evaluate(config: Path) -> dict[str, object]:
    """Train with one pipeline config and evaluate it on the held-out files."""
    settings = load_settings(ROOT / "config.yml", environ={})
    env = app.rasa_environment(settings)
    contract = app.topics(settings)
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        project = scratch / "project"
        shutil.copytree(env.project, project, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(config, project / "config.yml")
        run_env = RasaEnvironment(env.venv, project, scratch / "models")
        model, _ = train(run_env, TrainingInputs(project, settings.path(settings.nlu.data)))
        cases = [
            case
            for path in sorted((ROOT / "data" / "eval").glob("heldout-*.jsonl"))
            for case in read_cases(path, contract.ids())[0]
        ]
        async with (
            private_server(settings, run_env) as server,
            NluClient(server.url, timeout=30, max_chars=settings.nlu.max_chars) as client,
        ):
            outcomes = await run_cases(client, cases, settings.nlu.urgent_threshold)
        result = report(outcomes)
        return {
            "config": config.name,
            "training_s": model.seconds,
            "model_mb": round(model.path.stat().st_size / 2**20, 1),
            "intent_accuracy": result["intent_accuracy"],
            "macro_f1": result["macro_f1"],
            "emergency_recall": result["emergency_recall"],
            "by_lang_accuracy": {k: v["intent_accuracy"] for k, v in result["by_lang"].items()},
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("configs", nargs="+", type=Path)
    args = parser.parse_args()
    for config in args.configs:
        print(json.dumps(asyncio.run(evaluate(config))), flush=True)


if __name__ == "__main__":
    main()
