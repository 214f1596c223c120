"""The pre-launch memory estimate against peaks measured on a GPU (issue 11's goal: within ±20%).

The peaks are `bench/gpu_table.py`'s, measured on an NVIDIA H200 on 2026-11-29 (bench/README.md):
`playground train`, bf16, batch 8 x max length 512, DialogSum rows, the project's memory plan
(activation checkpointing, Liger's fused loss), random-weight Qwen2.5 architectures. Here the
estimate is computed for the same recipes and shapes on this machine, told it has such a GPU."""

import json

import pytest

from playground.training.estimate import count_trainable, estimate_memory
from playground.training.recipes import recipe_from_dict

# Qwen/Qwen2.5-0.5B's and 7B's config.json (the shapes bench/gpu_table.py builds)
SHAPES = {
    "0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                 num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
    "7b": dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
               num_key_value_heads=4, vocab_size=152064, tie_word_embeddings=False),
}
MEASURED_PEAK_GIB = {("0.5b", "full"): 4.1, ("0.5b", "lora"): 1.6, ("0.5b", "qlora"): 1.0,
                     ("0.5b", "prompt_tuning"): 1.3, ("7b", "full"): 57.1, ("7b", "lora"): 17.0, ("7b", "qlora"): 7.2}


def pretend_an_h200(monkeypatch):
    """After the counting (transformers' imports must see this machine as it is)."""
    from playground.training import memory_plan

    monkeypatch.setattr(memory_plan, "liger_installed", lambda: True)  # liger-kernel installed
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    monkeypatch.setattr("torch.cuda.is_bf16_supported", lambda: True)
    monkeypatch.setattr("torch.cuda.mem_get_info", lambda: (139 * 2**30, 140 * 2**30))
    monkeypatch.setattr("torch.cuda.get_device_name", lambda: "NVIDIA H200")


@pytest.mark.parametrize("size,method", sorted(MEASURED_PEAK_GIB))
def test_the_estimate_is_within_20_percent_of_the_peak_measured_on_a_gpu(tmp_path, monkeypatch, size, method):
    (tmp_path / "config.json").write_text(json.dumps({
        "model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], **SHAPES[size], "max_position_embeddings": 32768,
        "rope_theta": 1000000.0, "rms_norm_eps": 1e-6, "hidden_act": "silu", "use_sliding_window": False}))
    recipe = recipe_from_dict({"method": method, "base_model": str(tmp_path), "data": "sentiment",
                               "per_device_train_batch_size": 8, "max_length": 512})
    trainable, total, config = count_trainable(recipe, str(tmp_path))
    pretend_an_h200(monkeypatch)
    estimated = estimate_memory(recipe, config, trainable, total).total / 2**30
    measured = MEASURED_PEAK_GIB[(size, method)]
    assert abs(estimated - measured) / measured <= 0.2, f"estimate {estimated:.2f} GiB, measured {measured} GiB"
