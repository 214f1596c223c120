"""Every fine-tuning method really learns on the tiny model, in seconds, on the CPU; results
reload exactly; a merged LoRA equals the adapter. Task: the built-in review sentiment set
(labels 'positive' / 'negative'), 20% held out for validation."""

import json

import pytest
import torch

from playground import adapters as adapter_store
from playground.errors import PlaygroundError
from playground.generation import DecodingParams, generate, stream
from playground.metrics import exact_match
from playground.training.recipes import recipe_from_dict
from playground.training.sft import train
from playground.training.sft_data import build_splits

# Calibrated on the shipped tiny model (width 64, init 0.2): each clearly learns in 60 steps.
METHODS = {
    "full": dict(learning_rate=1e-3),
    "lora": dict(learning_rate=3e-3),
    "qlora": dict(learning_rate=3e-3),
    "prompt_tuning": dict(learning_rate=0.1, num_virtual_tokens=8, prompt_tuning_init_text="Review sentiment"),
    "selective": dict(learning_rate=3e-3, last_n_blocks=1),
    "ia3": dict(learning_rate=0.1),
}


def recipe(method, tiny_dir, **extra):
    return recipe_from_dict({"method": method, "base_model": str(tiny_dir), "data": "sentiment", "max_steps": 60,
                             "per_device_train_batch_size": 8, "max_length": 128, "val_fraction": 0.2,
                             "test_fraction": 0.0, **METHODS[method], **extra})


@pytest.fixture(scope="module")
def trained(tiny_dir, tmp_path_factory):
    """Train each method once per test session (lazily), keyed by method."""
    results = {}

    def get(method):
        if method not in results:
            folder = tmp_path_factory.mktemp(method)
            r = recipe(method, tiny_dir)
            results[method] = (r, train(r, str(tiny_dir), folder / "run", folder / "out"))
        return results[method]

    return get


def greedy_answers(lm, rows, adapter=None):
    return [generate(lm, row["prompt"], DecodingParams(max_new_tokens=3), chat=True, adapter=adapter).text for row in rows]


@pytest.mark.parametrize("method", list(METHODS))
def test_each_method_learns(trained, method):
    r, outcome = trained(method)
    before, after = outcome.metrics["eval_loss_before"], outcome.metrics["eval_loss"]
    assert after < 0.5 * before, (before, after)
    assert outcome.status == "finished"
    assert 0 < outcome.trainable_params <= outcome.total_params
    assert outcome.metrics["estimated_peak_mb"] > 0 and outcome.metrics["peak_memory_mb"] > 0  # both kept in run.json
    if method in ("lora", "qlora", "prompt_tuning", "ia3", "selective"):
        assert outcome.trainable_params < 0.5 * outcome.total_params
    saved = sorted(p.name for p in outcome.output_dir.iterdir())
    expected = "adapter_model.safetensors" if method not in ("full", "selective") else "model.safetensors"
    assert expected in saved and "tokenizer.json" in saved


@pytest.mark.parametrize("method", ["full", "qlora"])
def test_with_activation_checkpointing_a_method_learns_as_well(tiny_dir, tmp_path, method):
    """Checkpointing (non-reentrant) is on by default on a GPU; on here, it must change memory, not learning."""
    r = recipe(method, tiny_dir, activation_checkpointing="on")
    outcome = train(r, str(tiny_dir), tmp_path / "run", tmp_path / "out")
    base = outcome.model.get_base_model() if hasattr(outcome.model, "get_base_model") else outcome.model
    assert base.is_gradient_checkpointing
    assert outcome.metrics["eval_loss"] < 0.5 * outcome.metrics["eval_loss_before"], outcome.metrics
    if method == "qlora":  # the non-quantized weights stay in the compute type, frozen
        assert not any(p.requires_grad for n, p in base.named_parameters() if "lora_" not in n)


def test_a_training_step_reads_back_from_the_device_only_inside_trl_and_the_model(tiny_dir, tmp_path, monkeypatch):
    """On a GPU every read of a tensor's value on the host (item, bool, ...) waits for the queued work:
    the Trainer's own loop must read nothing back within a step (its NaN filter and token count did,
    after the backward pass, leaving the GPU idle while the next step was prepared). Counted here, on a
    CPU, by wrapping those methods during the steps after the first two."""
    import os
    import traceback
    from collections import Counter

    from transformers import TrainerCallback

    reads, counting = Counter(), [False]
    for name in ("item", "tolist", "__bool__", "__int__", "__float__", "__index__"):
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            if counting[0]:
                caller = traceback.extract_stack(limit=2)[0]
                reads[(os.path.basename(caller.filename), caller.name, _name)] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)

    class Window(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            counting[0] = state.global_step >= 2

        def on_step_end(self, args, state, control, **kwargs):
            counting[0] = False

    r = recipe("lora", tiny_dir, max_steps=6, val_fraction=0.0)
    train(r, str(tiny_dir), tmp_path / "run", tmp_path / "out", callbacks=[Window()])
    steps = 4
    assert not [site for site in reads if site[0] == "trainer.py"], reads
    assert sum(reads.values()) <= 9 * steps, reads  # the model's padding check and TRL's loss and metrics
    logged = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    assert all(e["tokens_per_s"] > 0 for e in logged if e["type"] == "log" and "loss" in e)  # counted without them


def test_the_loss_over_the_whole_logits_learns_as_well(tiny_dir, tmp_path):
    """(TRL's chunked loss is what every other run here uses: auto on a CPU.)"""
    outcome = train(recipe("lora", tiny_dir, fused_loss="off", max_steps=30), str(tiny_dir), tmp_path / "run", tmp_path / "out")
    assert outcome.metrics["eval_loss"] < 0.6 * outcome.metrics["eval_loss_before"], outcome.metrics


def test_the_same_seed_gives_the_same_run(tiny_dir, tmp_path):
    """LoRA starts from random A matrices: the recipe's seed must fix them too, not only the data order
    (it did not: two runs of one recipe differed, and so did everything trained from them)."""
    from safetensors.torch import load_file

    def weights(name, seed):
        train(recipe("lora", tiny_dir, max_steps=4, seed=seed), str(tiny_dir), tmp_path / name / "run", tmp_path / name / "out")
        return load_file(tmp_path / name / "out" / "adapter_model.safetensors")

    first, again, other = weights("first", 7), weights("again", 7), weights("other", 8)
    assert first.keys() == again.keys() and all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_a_run_fits_its_batch_to_the_free_memory_and_says_so(tiny_dir, tmp_path):
    r = recipe("lora", tiny_dir, fit_batch="on", per_device_train_batch_size=2, gradient_accumulation_steps=4, max_steps=3)
    outcome = train(r, str(tiny_dir), tmp_path / "run", tmp_path / "out")
    assert outcome.status == "finished"
    events = (tmp_path / "run" / "events.jsonl").read_text()
    assert "Batch 8 x 1 accumulation steps (was 2 x 4)" in events  # a CPU has memory to spare for the tiny model


def test_qlora_trains_a_4bit_base(trained):
    _, outcome = trained("qlora")
    kinds = {type(p).__name__ for p in outcome.model.parameters()}
    assert "Params4bit" in kinds  # the frozen base really was NF4


@pytest.mark.parametrize("method", ["full", "lora", "prompt_tuning"])
def test_exact_match_of_greedy_outputs_rises(trained, manager, tiny_dir, method):
    r, outcome = trained(method)
    rows = build_splits(r).validation
    labels = [row["completion"] for row in rows]
    base = manager.get(str(tiny_dir))
    before = exact_match(greedy_answers(base, rows), labels)
    if method == "full":
        after = exact_match(greedy_answers(manager.get(str(outcome.output_dir)), rows), labels)
    else:
        lm = manager.get(str(tiny_dir), adapters=(str(outcome.output_dir),))
        after = exact_match(greedy_answers(lm, rows, adapter=outcome.output_dir.name), labels)
        with_base = exact_match(greedy_answers(lm, rows), labels)
        assert with_base == before  # the base model is never mutated by attaching an adapter
    assert after >= before + 0.2, (before, after)


@pytest.mark.parametrize("method", ["lora", "prompt_tuning", "ia3"])
def test_saved_adapter_reloads_with_identical_outputs(trained, tiny_dir, method):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    _, outcome = trained(method)
    ids = torch.tensor([[5, 17, 42, 99, 7]])
    outcome.model.eval()
    with torch.no_grad():
        expected = outcome.model(input_ids=ids).logits
        reloaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_dir), outcome.output_dir).eval()
        assert torch.allclose(reloaded(input_ids=ids).logits, expected, atol=1e-5)


def test_merged_lora_matches_the_adapter(trained, tiny_dir, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    _, outcome = trained("lora")
    folder = tmp_path / "adapters"
    folder.mkdir()
    import shutil

    shutil.copytree(outcome.output_dir, folder / "lora-result")
    merged = adapter_store.merge(folder, "lora-result", str(tiny_dir), "lora-merged")
    ids = torch.tensor([[3, 14, 15, 92, 65, 35]])
    with torch.no_grad():
        adapter = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_dir), folder / "lora-result").eval()
        full = AutoModelForCausalLM.from_pretrained(merged).eval()
        assert torch.allclose(full(input_ids=ids).logits, adapter(input_ids=ids).logits, atol=1e-4)
    shutil.copytree(trained("prompt_tuning")[1].output_dir, folder / "soft")
    (folder / "soft" / "run.json").write_text('{"method": "prompt_tuning"}')
    with pytest.raises(PlaygroundError, match="only LoRA adapters can be merged"):
        adapter_store.merge(folder, "soft", str(tiny_dir), "soft-merged")
    assert not (folder / "soft-merged").exists()


def test_adapters_of_every_type_work_in_any_order_on_one_base(trained, tiny_dir, settings, tmp_path):
    """A prompt-tuning adapter after a LoRA one (PEFT can't mix their types on one PeftModel),
    then (IA)³, then LoRA again and the base: each gives what it gives when loaded alone."""
    import shutil

    from playground.models import ModelManager

    folders = {}
    for method in ("lora", "prompt_tuning", "ia3"):
        folders[method] = tmp_path / f"{method}-adapter"
        shutil.copytree(trained(method)[1].output_dir, folders[method])
    prompt = "Review: I loved every minute of it.\nSentiment:"
    params = DecodingParams(max_new_tokens=4)
    alone = {}
    for method, folder in folders.items():
        lm = ModelManager(settings).get(str(tiny_dir), adapters=(str(folder),))
        alone[method] = generate(lm, prompt, params, chat=True, adapter=folder.name).token_ids
    base_alone = generate(ModelManager(settings).get(str(tiny_dir)), prompt, params, chat=True).token_ids
    assert len({tuple(v) for v in alone.values()} | {tuple(base_alone)}) > 1  # the adapters do change the output

    shared = ModelManager(settings).get(str(tiny_dir), adapters=tuple(str(f) for f in folders.values()))
    for method in ("lora", "prompt_tuning", "ia3", "lora", None, "prompt_tuning", None):
        adapter = folders[method].name if method else None
        got = generate(shared, prompt, params, chat=True, adapter=adapter).token_ids
        assert got == (alone[method] if method else base_alone), method
        # the stream's own step loop (soft prompt added in its first step) gives what PEFT's generate() gives
        streamed = list(stream(shared, prompt, params, chat=True, adapter=adapter))[-1].result.token_ids
        assert streamed == got, method
    sampled = DecodingParams(max_new_tokens=6, do_sample=True, top_k=20, temperature=1.5, seed=2)
    soft = folders["prompt_tuning"].name
    assert (list(stream(shared, prompt, sampled, chat=True, adapter=soft))[-1].result.token_ids
            == generate(shared, prompt, sampled, chat=True, adapter=soft).token_ids)


def test_merging_runs_in_the_background_as_a_run_of_its_own(trained, tiny_dir, tmp_path, monkeypatch):
    """The Fine-tune tab's Merge button: a 'merge' run, queued and published like a training run."""
    import shutil
    import time

    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from playground.jobs import JobManager
    from playground.merge_kind import MergeRecipe
    from playground.settings import Settings

    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PLAYGROUND_ADAPTERS", str(tmp_path / "adapters"))
    settings = Settings.from_env()
    settings.ensure_dirs()
    shutil.copytree(trained("lora")[1].output_dir, settings.adapters_dir / "my-lora")
    (settings.adapters_dir / "my-lora" / "run.json").write_text(f'{{"method": "lora", "base_model": "{tiny_dir}"}}')
    jobs = JobManager(settings)
    shutil.copytree(trained("ia3")[1].output_dir, settings.adapters_dir / "my-ia3")
    (settings.adapters_dir / "my-ia3" / "run.json").write_text('{"method": "ia3"}')
    with pytest.raises(PlaygroundError, match="only LoRA adapters can be merged"):
        jobs.submit("merge", MergeRecipe(adapter="my-ia3"))
    assert jobs.store.runs() == []
    run = jobs.submit("merge", MergeRecipe(adapter="my-lora"))
    assert run["kind"] == "merge" and run["name"] == "my-lora-merged"
    deadline = time.time() + 180
    while jobs.store.run(run["id"])["status"] in ("queued", "running") and time.time() < deadline:
        time.sleep(0.5)
        jobs.refresh()
    done = jobs.store.run(run["id"])
    assert done["status"] == "finished", done["error"]
    ids = torch.tensor([[3, 14, 15, 92, 65, 35]])
    with torch.no_grad():
        adapter = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_dir), settings.adapters_dir / "my-lora").eval()
        merged = AutoModelForCausalLM.from_pretrained(done["output_dir"]).eval()
        assert torch.allclose(merged(input_ids=ids).logits, adapter(input_ids=ids).logits, atol=1e-4)
