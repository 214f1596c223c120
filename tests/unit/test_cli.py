"""The CLI as a script would use it: JSON on stdout, one line on bad input. Real subprocesses where the
process is what is tested (its exit code, its streams); the verbs' own output through `main` in this
process (each subprocess that loads a model spends ~7 s importing torch)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args, check=True):
    out = subprocess.run([sys.executable, "-m", "playground", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def main_output(capsys, *args) -> str:
    """What `python -m playground ARGS` prints on stdout, run through cli.main here; it must succeed."""
    from playground.cli import main

    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from playground.cli import main

    folder = tmp_path_factory.mktemp("cli") / "tiny"
    assert main(["tiny-model", str(folder), "--seed", "3"]) == 0
    assert (folder / "model.safetensors").exists() and (folder / "tokenizer.json").exists()
    return str(folder)


@pytest.mark.parametrize("verb", ["tiny-model", "generate", "next-token", "prompt", "serve"])
def test_every_verb_has_help(verb):
    assert "usage:" in run(verb, "--help").stdout


def test_generate_json_is_seeded(model_dir, capsys):
    args = ("generate", "--model", model_dir, "--prompt", "Hello", "--max-new-tokens", "12",
            "--temperature", "0.9", "--top-k", "40", "--seed", "5", "--json")
    first, second = json.loads(main_output(capsys, *args)), json.loads(main_output(capsys, *args))
    assert first == {**second, "seconds": first["seconds"], "tokens_per_s": first["tokens_per_s"]}
    assert isinstance(first["text"], str) and isinstance(first["tokens_per_s"], float)
    assert len(first["token_ids"]) == len(first["logprobs"]) > 0
    assert all(isinstance(t, int) for t in first["token_ids"]) and all(lp <= 0 for lp in first["logprobs"])


def test_generate_greedy_chat_plain_text(model_dir, capsys):
    args = ("generate", "--model", model_dir, "--prompt", "Hi", "--chat", "--greedy", "--max-new-tokens", "5")
    out, as_json = run(*args), json.loads(main_output(capsys, *args, "--json"))  # a real process, and the same here
    assert out.stdout[:-1] == as_json["text"]  # the completion, then a newline
    stats = re.fullmatch(r"\[(\d+) tokens, [\d.]+ tokens/s, (eos|length)\]", out.stderr.strip().splitlines()[-1])
    assert stats and int(stats[1]) == len(as_json["token_ids"]) and stats[2] == as_json["finish_reason"]


def test_next_token_json(model_dir, capsys):
    out = json.loads(main_output(capsys, "next-token", "--model", model_dir, "--prompt", "Hello", "--top-k", "3", "--top", "10",
                                 "--json"))
    tokens = out["tokens"]
    assert len(tokens) == 10 and set(tokens[0]) == {"id", "token", "p_raw", "p_final"}
    assert [t["p_raw"] for t in tokens] == sorted((t["p_raw"] for t in tokens), reverse=True)
    assert sum(t["p_final"] > 0 for t in tokens) == 3 and all(t["p_final"] == 0 for t in tokens[3:])


def test_prompt_json(model_dir, capsys):
    out = json.loads(main_output(capsys, "prompt", "--task", "summarization", "--shots", "2", "--seed", "1", "--model", model_dir,
                                 "--json"))
    assert out["context_window"] == 512 and out["n_tokens"] > 100 and out["prompt"].count("Summary:") == 3
    zero = json.loads(main_output(capsys, "prompt", "--task", "sentiment", "--shots", "0", "--model", model_dir, "--json"))
    assert zero["prompt"].count("Sentiment:") == 1 and zero["n_tokens"] < out["n_tokens"]


@pytest.mark.parametrize("args, message", [
    (("generate", "--model", "MODEL", "--prompt", ""), "prompt is empty"),
    # flags are checked before a model is looked for: a typo is told at once, not after the load
    (("generate", "--model", "/no/such/model", "--prompt", "x", "--top-p", "1.5"), "Top-p"),
    (("generate", "--model", "MODEL", "--prompt", "x", "--top-k", "-2"), "Top-k"),
    (("generate", "--model", "MODEL", "--prompt", "x", "--temperature", "0"), "Temperature"),
    (("generate", "--model", "MODEL", "--prompt", "x", "--max-new-tokens", "5000"), "context window"),
    (("generate", "--model", "nobody/unknown-model", "--prompt", "x"), "offline"),
    (("next-token", "--model", "MODEL", "--prompt", "x", "--top", "0", "--json"), "--top"),
    (("next-token", "--model", "/no/such/model", "--prompt", " ", "--json"), "prompt is empty"),
    (("prompt", "--task", "poetry", "--model", "MODEL"), "Unknown built-in task"),
    (("prompt", "--task", "sentiment", "--shots", "99", "--model", "MODEL"), "other examples"),
    (("eval", "--max-examples", "abc"), "--max-examples: invalid int value"),  # argparse's, one line too (no usage)
])
def test_bad_input_prints_one_line_and_exits_non_zero(model_dir, args, message):
    out = run(*[model_dir if a == "MODEL" else a for a in args], check=False)
    assert out.returncode != 0
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], out.stderr
    assert "Traceback" not in out.stderr and "usage:" not in out.stderr
