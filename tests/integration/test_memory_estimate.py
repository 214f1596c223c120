"""The pre-launch memory estimate against measured peaks on this CPU: each run trains a few steps
in its own process (`python -m playground train`), whose run.json keeps `estimated_peak_mb` beside
`peak_memory_mb` (the process's peak resident size, which also holds the Python runtime's few
hundred MB: the tests compare orders and differences, not totals).

The methods' model is wider than the tiny one (width 512, 6 layers, ~25M parameters) so that their
differences (optimizer state, LoRA's dropped-out input copies) stand out of the runtime. QLoRA is
left out here: its peak on a CPU moved by ~90 MB between two runs of the same recipe (bitsandbytes'
CPU kernels); its GPU figures are for bench/gpu_table.py."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from playground.tiny_model import build_tiny_model
from tests.conftest import ROOT

METHODS = ("full", "lora", "prompt_tuning")


def estimated_and_measured_mb(home, recipe: dict) -> tuple[float, float]:
    path = home / f"{recipe['output_name']}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    env = {**os.environ, "PLAYGROUND_HOME": str(home / "home"), "PLAYGROUND_ADAPTERS": str(home / "adapters")}
    done = subprocess.run([sys.executable, "-m", "playground", "train", str(path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((home / "adapters" / recipe["output_name"] / "run.json").read_text())["metrics"]
    return metrics["estimated_peak_mb"], metrics["peak_memory_mb"]


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    home = tmp_path_factory.mktemp("estimate-home")
    model = build_tiny_model(home / "wide", hidden_size=512, layers=6)
    return {method: estimated_and_measured_mb(home, {
        "method": method, "base_model": str(model), "data": "sentiment", "max_steps": 3, "per_device_train_batch_size": 4,
        "max_length": 128, "val_fraction": 0, "test_fraction": 0, "output_name": f"wide-{method}"}) for method in METHODS}


def test_the_estimate_orders_the_methods_as_measured(measured):
    by_estimate = sorted(METHODS, key=lambda m: measured[m][0])
    by_measure = sorted(METHODS, key=lambda m: measured[m][1])
    assert by_estimate == by_measure == ["prompt_tuning", "lora", "full"], measured


def test_the_loss_over_a_large_vocabulary_is_estimated_as_measured(tmp_path):
    """Whole logits against TRL's chunked loss, with a 32k vocabulary (a narrow model, so the loss is
    most of the difference) and rows of one length that fill max_length, as the estimate assumes."""
    model = build_tiny_model(tmp_path / "wide-vocab", vocab_size=32_768)
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps({"prompt": " ".join(["the cat sat on the mat"] * 40) + f" {i}",
                                        "completion": " ".join(["a dog ran"] * 30)}) + "\n" for i in range(10, 42)))
    runs = {loss: estimated_and_measured_mb(tmp_path, {
        "method": "lora", "base_model": str(model), "data": str(data), "max_steps": 2, "per_device_train_batch_size": 8,
        "max_length": 448, "val_fraction": 0, "test_fraction": 0, "fused_loss": loss, "output_name": f"loss-{loss}"})
        for loss in ("off", "chunked")}
    estimated = runs["off"][0] - runs["chunked"][0]
    measured = runs["off"][1] - runs["chunked"][1]
    assert measured > 1000, runs  # (8 x 433 tokens x 32,768 x 4 bytes: ~450 MB a float32 copy of the logits)
    # On a CPU the peak is the process's RSS, where freed logits' buffers are reused: the whole loss reads ~1,250 MB
    # against 1,664 estimated (4 float32 copies, as measured on a GPU), stable to ~15 MB across runs. The estimate must
    # not fall short (a run would not fit) and must stay within 40% above; `rel=0.25` sat at that edge (1,256 vs 1,248)
    # and failed one run in two.
    assert measured <= estimated <= 1.4 * measured, runs
