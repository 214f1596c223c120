"""The pre-launch memory estimate ranks the methods as their measured peaks do on this CPU: each
method trains a few steps in its own process (`python -m playground train`), whose run.json keeps
`estimated_peak_mb` beside `peak_memory_mb` (the process's peak resident size).

The model is wider than the tiny one (width 512, 6 layers, ~25M parameters) so that the methods'
differences (optimizer state, LoRA's dropped-out input copies) stand out of the Python runtime's
few hundred MB. QLoRA is left out here: its peak on a CPU moved by ~90 MB between two runs of the
same recipe (bitsandbytes' CPU kernels); its GPU figures are for bench/gpu_table.py."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from playground.tiny_model import build_tiny_model
from tests.conftest import ROOT

METHODS = ("full", "lora", "prompt_tuning")


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    home = tmp_path_factory.mktemp("estimate-home")
    model = build_tiny_model(home / "wide", hidden_size=512, layers=6)
    env = {**os.environ, "PLAYGROUND_HOME": str(home / "home"), "PLAYGROUND_ADAPTERS": str(home / "adapters")}
    peaks = {}
    for method in METHODS:
        path = home / f"{method}.yaml"
        path.write_text(yaml.safe_dump({"method": method, "base_model": str(model), "data": "sentiment", "max_steps": 3,
                                        "per_device_train_batch_size": 4, "max_length": 128, "val_fraction": 0,
                                        "test_fraction": 0, "output_name": f"wide-{method}"}))
        done = subprocess.run([sys.executable, "-m", "playground", "train", str(path)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        metrics = json.loads((home / "adapters" / f"wide-{method}" / "run.json").read_text())["metrics"]
        peaks[method] = (metrics["estimated_peak_mb"], metrics["peak_memory_mb"])
    return peaks


def test_the_estimate_orders_the_methods_as_measured(measured):
    by_estimate = sorted(METHODS, key=lambda m: measured[m][0])
    by_measure = sorted(METHODS, key=lambda m: measured[m][1])
    assert by_estimate == by_measure == ["prompt_tuning", "lora", "full"], measured
