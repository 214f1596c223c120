"""Fuzzing (tests/integration/fuzzing.py): every named endpoint of the running app and every CLI
verb get a few inputs each, plausible and hostile; none may answer with a server error, an
unexplained error or a traceback. bench/fuzz_report.py tries many more and prints the counts."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.integration import fuzzing, raw_api
from tests.ui.conftest import start_app, stop_app

EXAMPLES = 8  # per endpoint and verb here (derandomized: the same inputs in every run)
# Small work for whatever input turns out valid (a run launched by the fuzzer trains 2 steps).
SMALL = {"PLAYGROUND_LIMIT_TRAIN_STEPS": "2", "PLAYGROUND_LIMIT_EVAL_EXAMPLES": "3", "PLAYGROUND_LIMIT_NEW_TOKENS": "16",
         "PLAYGROUND_MODEL": "tiny"}


def report(outcomes: dict[str, fuzzing.Outcome]) -> str:
    return "\n".join(f"{name}: {problem} <- {str(values)[:300]}"
                     for name, outcome in outcomes.items() for values, problem in outcome.failures[:3])


def test_every_endpoint_answers_bad_input_with_a_message(tmp_path, monkeypatch):
    for key, value in {**SMALL, "PLAYGROUND_HOME": str(tmp_path / "home"),
                       "PLAYGROUND_ADAPTERS": str(tmp_path / "adapters")}.items():
        monkeypatch.setenv(key, value)
    server = start_app(Path(tempfile.mkdtemp(prefix="fuzz-api-")))
    try:
        cfg = raw_api.config(server.url)
        names = sorted(d["api_name"] for d in cfg["dependencies"] if d.get("api_visibility") == "public")
        outcomes = {name: fuzzing.fuzz_endpoint(server.url, cfg, name, EXAMPLES) for name in names}
        assert server.process.poll() is None, server.log_tail()
    finally:
        stop_app(server)
    assert len(outcomes) >= 45 and all(o.tried >= 1 for o in outcomes.values())
    assert not any(o.failures for o in outcomes.values()), report(outcomes)


@pytest.mark.parametrize("verb", sorted(fuzzing.cli_verbs()))
def test_every_cli_verb_answers_bad_input_with_one_line(verb, tmp_path, monkeypatch):
    for key, value in {**SMALL, "PLAYGROUND_HOME": str(tmp_path / "home"),
                       "PLAYGROUND_ADAPTERS": str(tmp_path / "adapters"), "HF_HUB_OFFLINE": "1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)  # what a verb writes (tiny-model DIR, prefs export OUT) lands here
    outcome = fuzzing.fuzz_cli_verb(verb, fuzzing.cli_verbs()[verb], EXAMPLES)
    assert outcome.tried >= 1
    assert not outcome.failures, report({verb: outcome})
