"""What the benchmarks share: a random-weight model with SmolLM2-135M's architecture, built from
its config (no download), and a tokenizer trained here on DialogSum (or the built-in examples)."""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# DIALOGSUM_DIR: where a machine has the data elsewhere (the device machine gets only the repository)
DIALOGSUM = Path(os.environ.get("DIALOGSUM_DIR") or ROOT.parent / "shared" / "data" / "dialogsum")

# HuggingFaceTB/SmolLM2-135M's config.json, as published.
SMOLLM2_135M = dict(
    vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
    num_key_value_heads=3, max_position_embeddings=8192, rope_theta=100000.0, rms_norm_eps=1e-5,
    tie_word_embeddings=True, hidden_act="silu", initializer_range=0.041666666666666664,
)


def dialogsum_texts() -> list[str]:
    texts = []
    for name in ("dialogsum.dev.jsonl", "dialogsum.test.jsonl"):
        path = DIALOGSUM / name
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                texts += [row["dialogue"], row.get("summary") or row.get("summary1", "")]
    return texts


def smollm2_135m_random(out_dir: Path, seed: int = 0, full_vocab: bool = True) -> Path:
    """Write the model and a ~10k-vocab tokenizer to out_dir (reused if already there).
    full_vocab: keep SmolLM2's 49,152-row embedding (rows past the tokenizer's vocabulary zeroed,
    so the random model only emits tokens that decode to text); else size it to the tokenizer."""
    if (out_dir / "model.safetensors").exists():
        return out_dir
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from playground.tiny_model import build_tokenizer

    tokenizer = build_tokenizer(vocab_size=10_000, texts=dialogsum_texts() or None)
    tokenizer.model_max_length = 8192
    shape = SMOLLM2_135M if full_vocab else {**SMOLLM2_135M, "vocab_size": len(tokenizer)}
    config = LlamaConfig(**shape, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        model.get_input_embeddings().weight[len(tokenizer):] = 0
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


# google/flan-t5-small's config.json, as published (an encoder-decoder: T5 v1.1).
FLAN_T5_SMALL = dict(
    vocab_size=32128, d_model=512, d_kv=64, d_ff=1024, num_layers=8, num_decoder_layers=8, num_heads=6,
    relative_attention_num_buckets=32, feed_forward_proj="gated-gelu", tie_word_embeddings=False,
    layer_norm_epsilon=1e-6,
)


def flan_t5_small_random(out_dir: Path, seed: int = 0) -> Path:
    """A random-weight model with FLAN-T5-small's architecture and the DialogSum tokenizer (reused if
    already there). The output rows of tokens past the tokenizer's vocabulary and of EOS are zeroed,
    so greedy decoding writes text and runs to max new tokens, as a long summary does."""
    if (out_dir / "model.safetensors").exists():
        return out_dir
    import torch
    from transformers import GenerationConfig, T5Config, T5ForConditionalGeneration

    from playground.tiny_model import build_tokenizer

    tokenizer = build_tokenizer(vocab_size=10_000, texts=dialogsum_texts() or None)
    config = T5Config(**FLAN_T5_SMALL, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                      decoder_start_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    model = T5ForConditionalGeneration(config)
    with torch.no_grad():
        model.lm_head.weight[len(tokenizer):] = 0
        model.lm_head.weight[tokenizer.eos_token_id] = 0
    model.generation_config = GenerationConfig(eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id,
                                               decoder_start_token_id=config.decoder_start_token_id)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
