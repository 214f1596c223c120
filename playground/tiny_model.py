"""The built-in tiny model: a Llama-style causal LM and a byte-level BPE tokenizer trained here
(and, for the encoder-decoder paths, a T5-style sibling on the same tokenizer).

It has random weights (it only babbles), builds in about a second with no network, and is
deterministic from its seed. Tests use it, and the app offers it when no real model can be
downloaded, so every control can still be tried.
"""

from __future__ import annotations

import json
from pathlib import Path

from playground.settings import PROJECT_ROOT

TINY_MODEL_NAME = "tiny (built-in, random weights)"
EXAMPLES_DIR = PROJECT_ROOT / "assets" / "examples"  # its tokenizer is trained on these files: adding one changes the model
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# ChatML, as SmolLM2 and Qwen2.5 use; the {% generation %} markers let TRL train on replies only.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_BASE_CORPUS = """\
The quick brown fox jumps over the lazy dog. A model reads a prompt and predicts the next token.
Summarize the following conversation. Summary: Dialogue: Review: Sentiment: positive negative
Question: Answer: Instruction: Response: Translate to French: Hello, how are you today?
Fine-tuning adapts a pretrained language model to a task. LoRA trains small low-rank matrices.
Prompt tuning learns soft prompt vectors. Reinforcement learning from human feedback uses a reward model.
0 1 2 3 4 5 6 7 8 9 10 100 1000 January February March April May June July August September
"""


def _corpus() -> list[str]:
    texts = [_BASE_CORPUS]
    for path in sorted(EXAMPLES_DIR.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.extend(str(v) for v in json.loads(line).values())
    return texts


def build_tokenizer(vocab_size: int = 2048, texts: list[str] | None = None):
    """A byte-level BPE tokenizer with a ChatML template, trained on `texts` (default: the built-in corpus)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(texts or _corpus(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        chat_template=CHAT_TEMPLATE,
        model_max_length=512,
    )


def build_tiny_model(out_dir: str | Path, seed: int = 0, hidden_size: int = 64, layers: int = 2,
                     vocab_size: int | None = None) -> Path:
    """Write the tiny model and tokenizer to out_dir (a standard transformers folder). `vocab_size`
    above the tokenizer's adds output rows no text uses: a real model's vocabulary width (memory tests)."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer()
    config = LlamaConfig(
        vocab_size=max(vocab_size or 0, len(tokenizer)),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 4,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,  # small on purpose: few-shot prompts overflow it, as on real models
        # 0.2, not 0.02: at width 64 the default scale leaves LoRA and soft prompts unable to learn.
        initializer_range=0.2,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def build_tiny_seq2seq(out_dir: str | Path, seed: int = 0, hidden_size: int = 64, layers: int = 2) -> Path:
    """Write a tiny T5-style encoder-decoder (random weights, as FLAN-T5 is built) with the tiny
    model's tokenizer to out_dir: what tests of the encoder-decoder paths load instead of FLAN-T5."""
    import torch
    from transformers import GenerationConfig, T5Config, T5ForConditionalGeneration

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer()
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=hidden_size,
        d_kv=hidden_size // 4,
        d_ff=hidden_size * 4,
        num_layers=layers,
        num_heads=4,
        feed_forward_proj="gated-gelu",  # as FLAN-T5 (T5 v1.1)
        tie_word_embeddings=False,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,  # T5 starts decoding from its pad token
    )
    torch.manual_seed(seed)
    model = T5ForConditionalGeneration(config)
    model.generation_config = GenerationConfig(eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id,
                                               decoder_start_token_id=config.decoder_start_token_id)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
