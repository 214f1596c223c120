import hashlib

from playground.tiny_model import build_tiny_model


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_tiny_model_is_deterministic_from_its_seed(tmp_path):
    a = _digest(build_tiny_model(tmp_path / "a", seed=1))
    b = _digest(build_tiny_model(tmp_path / "b", seed=1))
    c = _digest(build_tiny_model(tmp_path / "c", seed=2))
    assert a == b
    assert a["model.safetensors"] != c["model.safetensors"]
    assert a["tokenizer.json"] == c["tokenizer.json"]  # the tokenizer does not depend on the weights' seed


def test_tiny_model_loads_offline_with_a_chat_template(tiny_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_dir)
    text = tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True)
    assert text == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    assert model.config.vocab_size == len(tokenizer)
    assert tokenizer.decode(tokenizer("Summarize this dialogue.")["input_ids"]) == "Summarize this dialogue."
