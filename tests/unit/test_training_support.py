"""Pieces of the fine-tuning path that need no training: data splits, estimates, events, store."""

import dataclasses
import json
import sqlite3

import pytest

from playground.adapters import delete, list_adapters, rename
from playground.errors import PlaygroundError
from playground.plots import memory_figure, training_figure
from playground.runs import attempt_times, first_start, read_events, seconds_run
from playground.store import MIGRATIONS, Store
from playground.training.estimate import count_trainable, estimate_memory
from playground.training.recipes import recipe_from_dict
from playground.training.sft_data import TEMPLATES, build_splits, render


def test_splits_are_seeded_disjoint_and_templated():
    recipe = recipe_from_dict({"method": "lora", "data": "sentiment", "template": "question", "val_fraction": 0.2,
                               "test_fraction": 0.1, "split_seed": 3})
    splits = build_splits(recipe)
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (33, 10, 5)  # round(48 * 0.1) = 5
    prompts = [r["prompt"] for r in splits.train + splits.validation + splits.test]
    assert len(set(prompts)) == 48 and all(p.startswith("Question: ") for p in prompts)
    assert build_splits(recipe).validation == splits.validation
    assert render("custom", "Rate: {input} ->", "x") == "Rate: x ->" and "alpaca" in TEMPLATES


def test_multitask_mix_follows_the_weights():
    recipe = recipe_from_dict({"method": "lora", "data": "sentiment", "val_fraction": 0.0, "test_fraction": 0.0,
                               "data_mix": [{"data": "sentiment", "weight": 1}, {"data": "summarization", "weight": 3}]})
    train = build_splits(recipe).train
    sources = [r["source"] for r in train]
    # interleave_datasets draws each row from a set with probability weight/total until every row was used
    assert 2.5 < sources.count("summarization") / sources.count("sentiment") < 3.6
    assert len({r["prompt"] for r in train if r["source"] == "sentiment"}) == 48  # no row of the light set is dropped
    assert len({r["prompt"] for r in train if r["source"] == "summarization"}) == 40
    assert [r["prompt"] for r in build_splits(recipe).train] == [r["prompt"] for r in train]  # seeded
    # "mix in more data sets": the main data stays in the mix (weight 1) when the mix does not list it
    more = recipe_from_dict({"method": "lora", "data": "sentiment", "val_fraction": 0.0, "test_fraction": 0.0,
                             "data_mix": [{"data": "summarization", "weight": 2}]})
    assert {r["source"] for r in build_splits(more).train} == {"sentiment", "summarization"}


def test_trainable_counts_and_memory_order(tiny_dir):
    counts = {}
    for method in ("full", "lora", "qlora", "prompt_tuning", "ia3", "selective"):
        recipe = recipe_from_dict({"method": method, "base_model": str(tiny_dir), "data": "sentiment",
                                   "per_device_train_batch_size": 8, "max_length": 256})
        trainable, total, config = count_trainable(recipe, str(tiny_dir))
        counts[method] = (trainable, total, estimate_memory(recipe, config, trainable, total))
    assert counts["full"][0] == counts["full"][1] > 0
    assert counts["prompt_tuning"][0] == 20 * 64  # 20 virtual tokens x hidden size 64
    assert counts["lora"][0] == counts["qlora"][0] < counts["full"][0]
    full, lora, qlora = (counts[m][2] for m in ("full", "lora", "qlora"))
    assert full.optimizer > lora.optimizer and lora.weights > qlora.weights
    # On this 0.25M-parameter model activations dominate, and LoRA's dropped-out input copies make it
    # the larger (tests/integration/test_memory_estimate.py checks the order against measured peaks).
    assert lora.total > qlora.total and lora.activations == qlora.activations > full.activations
    figure = memory_figure({m: c[2] for m, c in counts.items()}, chosen="lora")
    assert list(figure.layout.xaxis.ticktext) == [f"<b>{m}</b><br>(yours)" if m == "lora" else m for m in counts]
    bars = [trace for trace in figure.data if trace.type == "bar"]
    drawn = {name: sum(trace.y[list(trace.x).index(name)] for trace in bars) for name in counts}
    # a tiny model's megabytes drawn on a MiB axis, the unit its bars' labels use (not 0.03 GiB ticks)
    assert figure.layout.yaxis.title.text == "MiB" and figure.data[-1].text[0].endswith(" MiB")
    assert drawn["full"] == pytest.approx(full.total / 2**20, rel=1e-6) and drawn["lora"] > drawn["qlora"]
    # gigabytes free against a tiny model's megabytes: the scale is the bars', the free memory said in words
    assert figure.layout.yaxis.range[1] == pytest.approx(max(drawn.values()) * 1.2)
    assert "free now" in figure.layout.title.text and not figure.layout.shapes
    tight = memory_figure({"full": dataclasses.replace(full, available=full.total * 2)})
    assert tight.layout.shapes[0].y0 == pytest.approx(full.total * 2 / 2**20) and tight.layout.yaxis.range is None


def test_events_are_read_by_byte_offset_and_skip_a_partial_line(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"type": "log", "step": 1, "loss": 2.0}\n{"type": "log", "st')
    events, offset = read_events(path)
    assert [e["step"] for e in events] == [1]
    with path.open("a") as f:
        f.write('ep": 2, "loss": 1.5}\n')
    more, offset2 = read_events(path, offset)
    assert [e["step"] for e in more] == [2] and offset2 == path.stat().st_size
    figure = training_figure(events + more, "run")
    assert list(figure.data[0].y) == [2.0, 1.5]


def _run_row(run_id, name="", status="queued", output="adapter"):
    return {"id": run_id, "name": name, "kind": "sft", "output": output, "method": "lora", "base_model": "tiny",
            "status": status, "recipe": {"a": 1}, "run_dir": "/tmp/" + run_id}


def test_store_is_wal_and_claims_one_run_at_a_time(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    store.add_run(_run_row("r1", "one"))
    assert store.claim_next_queued()["id"] == "r1"
    assert store.claim_next_queued() is None  # one running at a time
    store.update_run("r1", status="finished", metrics={"loss": 1.0})
    again = Store(tmp_path / "db.sqlite")  # re-opening migrates nothing twice
    assert again.run("r1")["metrics"] == {"loss": 1.0}
    assert again.run("one") is None  # by id alone: names repeat across runs
    assert again.find("one")["id"] == "r1"
    db = sqlite3.connect(tmp_path / "db.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_database_of_the_first_schema_is_migrated_with_its_runs(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0] + "; PRAGMA user_version=1;")
    db.execute("INSERT INTO runs (id, name, kind, method, base_model, status, recipe, run_dir, created) "
               "VALUES ('old1', 'lora-run', 'train', 'lora', 'tiny', 'finished', '{}', '/tmp/x', 1.0)")
    db.commit()
    db.close()
    run = Store(path).run("old1")
    assert (run["kind"], run["output"], run["method"], run["status"]) == ("sft", "adapter", "lora", "finished")
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) > 1
    Store(path).add_run(_run_row("new1") | {"method": None, "base_model": None})  # optional for other kinds


def test_names_are_checked_and_taken_in_one_step_and_automatic_names_never_repeat(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    store.add_run(_run_row("r1", "same"))
    with pytest.raises(PlaygroundError, match="already queued"):
        store.add_run(_run_row("r2", "same"))
    store.add_run(_run_row("r3", "same", output="result"))  # a result writes no folder: the name is free
    first = store.add_run(_run_row("a1"), name_stem="lora-tiny-20261127-120000")
    second = store.add_run(_run_row("a2"), name_stem="lora-tiny-20261127-120000")
    assert first["name"] == "lora-tiny-20261127-120000" and second["name"] == "lora-tiny-20261127-120000-2"

    def taken_on_disk(name):
        if name == "on-disk":
            raise PlaygroundError("exists")

    with pytest.raises(PlaygroundError, match="exists"):
        store.add_run(_run_row("r4", "on-disk"), folder_free=taken_on_disk)
    assert store.run("r4") is None and store.run("r2") is None


def test_a_conditional_status_change_does_not_overwrite_a_claimed_run(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    store.add_run(_run_row("r1", "x"))
    store.claim_next_queued()  # a worker claims it between a reader's look and its write
    assert not store.update_run_if("r1", ("queued",), status="cancelled")
    assert store.run("r1")["status"] == "running"
    assert store.delete_runs(["r1"]) == []  # an active run is never removed


def test_a_file_that_is_not_a_database_is_named_with_what_to_do(tmp_path):
    path = tmp_path / "playground.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(PlaygroundError, match="damaged or is not a SQLite database") as err:
        Store(path)
    assert str(path) in str(err.value) and "mv" in str(err.value)


def test_a_resumed_runs_times_are_rebuilt_from_its_events_without_the_time_it_was_stopped():
    """Ran 100-150 s, stopped, resumed at 400 s and finished at 460 s: it ran 110 s in all (the rebuilt
    row spanned 100-460 s before, the stopped 250 s included); one that never ended ends at its last event."""
    def event(kind, t):
        return {"type": kind, "time": t}

    events = [event("status", 100), event("log", 120), event("done", 150), event("status", 400), event("done", 460)]
    row = attempt_times(events)
    assert (first_start(row), row["started"], row["finished"], seconds_run(row)) == (100, 400, 460, 110)
    lost = attempt_times([event("status", 100), event("log", 130)])
    assert (lost["started"], lost["finished"], seconds_run(lost)) == (100, 130, 30)
    assert seconds_run(attempt_times([])) is None


def test_damaged_event_lines_are_skipped_and_reported(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"type": "log", "step": 1, "loss": 2.0}\nnot json at all\n[1, 2]\n{"type": "log", "step": 2, "loss": 1.0}\n')
    events, offset = read_events(path)
    assert [e["step"] for e in events if e["type"] == "log"] == [1, 2]
    warnings = [e for e in events if e["type"] == "warning"]
    assert len(warnings) == 1 and "2 damaged line" in warnings[0]["message"] and offset == path.stat().st_size


def test_adapter_folder_management(tmp_path):
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "tiny"}))
    (folder / "run.json").write_text(json.dumps({"name": "a", "method": "lora", "base_model": "tiny", "finished": 1}))
    assert [a["name"] for a in list_adapters(tmp_path)] == ["a"]
    rename(tmp_path, "a", "b")
    assert json.loads((tmp_path / "b" / "run.json").read_text())["name"] == "b"
    with pytest.raises(PlaygroundError, match="not allowed"):
        rename(tmp_path, "b", "../c")
    with pytest.raises(PlaygroundError, match="No adapter"):
        delete(tmp_path, "a")
    delete(tmp_path, "b")
    assert list_adapters(tmp_path) == []


def test_a_reward_model_is_never_offered_for_generation(tmp_path):
    from playground.adapters import for_generation

    for name, output in (("policy", "adapter"), ("judge", "reward_model")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "adapter_config.json").write_text("{}")
        (tmp_path / name / "run.json").write_text(json.dumps({"name": name, "output": output, "finished": 1}))
    assert {a["name"] for a in list_adapters(tmp_path)} == {"policy", "judge"}
    assert [a["name"] for a in for_generation(list_adapters(tmp_path))] == ["policy"]


def test_the_held_out_kl_is_zero_against_itself_and_grows_with_the_policy_s_drift(tiny_dir):
    """KL(policy ‖ reference) per reply on the policy's own samples: 0 for the same model and for a
    fresh LoRA (its update starts at 0), and above 0 once the policy differs from its reference."""
    import copy

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from playground.training.policy_eval import held_out_kl, write_replies

    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_dir)
    prompts = ["Tell me about the river.", "Say something kind."]
    replies = write_replies(model, tokenizer, prompts, 32, 8, 1.0, seed=0)
    assert held_out_kl(model, tokenizer, prompts, replies, 32, reference=model) == pytest.approx(0, abs=1e-5)

    policy = get_peft_model(copy.deepcopy(model), LoraConfig(r=4, target_modules="all-linear"))
    assert held_out_kl(policy, tokenizer, prompts, replies, 32) == pytest.approx(0, abs=1e-5)  # the adapter disabled
    with torch.no_grad():
        for name, param in policy.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    drifted = write_replies(policy, tokenizer, prompts, 32, 8, 1.0, seed=0)
    assert held_out_kl(policy, tokenizer, prompts, drifted, 32) > 0.5


def test_the_memory_plan_resolves_per_device_and_refuses_what_the_device_cannot_use():
    from playground.training.memory_plan import plan_for

    lora = recipe_from_dict({"method": "lora"})
    cpu, gpu = plan_for(lora, cuda=False), plan_for(lora, cuda=True)
    assert not cpu.activation_checkpointing and gpu.activation_checkpointing  # auto: on a GPU
    assert gpu.trainer_kwargs()["activation_checkpointing_kwargs"] == {"use_reentrant": False}
    assert cpu.trainer_kwargs() == {"activation_checkpointing": False, "use_liger_kernel": False}
    # the loss: TRL's chunked loss where Liger can't run (fine-tuning), whole logits when off or for other kinds
    assert cpu.loss == "chunked" and cpu.trainer_kwargs(sft=True)["loss_type"] == "chunked_nll"
    off = plan_for(recipe_from_dict({"method": "lora", "fused_loss": "off"}), cuda=False)
    assert off.trainer_kwargs(sft=True)["loss_type"] == "nll"
    from playground.training.preference_recipes import DPORecipe

    assert plan_for(DPORecipe(), cuda=False).loss == "logits"
    with pytest.raises(PlaygroundError, match="chunked is TRL's supervised fine-tuning loss"):
        DPORecipe(fused_loss="chunked")
    with pytest.raises(PlaygroundError, match="set fused_loss instead"):
        recipe_from_dict({"method": "lora", "trainer_args": {"loss_type": "nll"}})
    assert recipe_from_dict({"method": "lora", "trainer_args": {"loss_type": "dft"}})  # another loss: TRL's own
    on_head = {"method": "ia3", "peft_args": {"target_modules": ["q_proj", "lm_head"], "feedforward_modules": []}}
    with pytest.raises(PlaygroundError, match="an adapter on lm_head would not train"):  # TRL refuses it at start
        plan_for(recipe_from_dict(on_head), cuda=False)
    assert plan_for(recipe_from_dict({**on_head, "fused_loss": "off"}), cuda=False).loss == "logits"
    forced = recipe_from_dict({"method": "lora", "activation_checkpointing": "on", "optimizer": "paged_adamw_8bit"})
    assert plan_for(forced, cuda=True).trainer_kwargs()["optim"] == "paged_adamw_8bit"
    assert plan_for(dataclasses.replace(forced, optimizer="adamw"), cuda=False).activation_checkpointing  # on: even here
    with pytest.raises(PlaygroundError, match="paged_adamw_8bit needs a CUDA GPU"):
        plan_for(forced, cuda=False)
    with pytest.raises(PlaygroundError, match="fused_loss on needs a CUDA GPU"):
        plan_for(recipe_from_dict({"method": "lora", "fused_loss": "on"}), cuda=False)
    with pytest.raises(PlaygroundError, match="optimizer must be one of"):
        recipe_from_dict({"method": "lora", "optimizer": "sgd"})
    with pytest.raises(PlaygroundError, match="set the recipe's activation_checkpointing instead"):
        recipe_from_dict({"method": "full", "gradient_checkpointing": "true"})


def test_the_estimate_follows_the_memory_plan(tiny_dir, monkeypatch):
    from playground.training import memory_plan

    def estimate(method, **plan):
        recipe = recipe_from_dict({"method": method, "base_model": str(tiny_dir), "data": "sentiment",
                                   "per_device_train_batch_size": 8, "max_length": 256, **plan})
        trainable, total, config = count_trainable(recipe, str(tiny_dir))
        return estimate_memory(recipe, config, trainable, total)

    on_cpu = estimate("lora", fused_loss="chunked").activations - estimate("lora", fused_loss="off").activations
    assert on_cpu == 256 * 2048 * 4 * 4 - 8 * 256 * 2048 * 4 * 4  # one chunk, no float32 copy of a float32 head
    dft = estimate("lora", trainer_args={"loss_type": "dft"}).activations  # TRL's DFT loss: the whole logits
    assert dft == estimate("lora", fused_loss="off").activations
    plain, checkpointed = estimate("full"), estimate("full", activation_checkpointing="on")
    assert checkpointed.activations < plain.activations and checkpointed.weights == plain.weights
    assert estimate("qlora", upcast_non_quantized=True).weights >= estimate("qlora").weights
    monkeypatch.setattr(memory_plan, "liger_installed", lambda: True)  # as if liger were installed
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    monkeypatch.setattr("torch.cuda.is_bf16_supported", lambda: True)
    monkeypatch.setattr("torch.cuda.mem_get_info", lambda: (80 * 2**30, 80 * 2**30))
    monkeypatch.setattr("torch.cuda.get_device_name", lambda: "a GPU")
    fused, unfused = estimate("lora", fused_loss="auto"), estimate("lora", fused_loss="off")
    assert unfused.activations - fused.activations == 8 * 256 * 2048 * 4 * 4  # four fp32 copies of the logits
    chunked, hidden = estimate("lora", fused_loss="chunked"), 64
    assert chunked.activations - fused.activations == 256 * 2048 * 4 * 4 + 2048 * hidden * 4  # one chunk, the head in fp32
    assert estimate("full", fused_loss="chunked").activations - estimate("full").activations == (
        256 * 2048 * 4 * 4 + 2048 * hidden * 4 * 2)  # and its gradient: full fine-tuning trains the head
    full, eight_bit = estimate("full"), estimate("full", optimizer="adamw_8bit")
    trainable = count_trainable(recipe_from_dict({"method": "full", "base_model": str(tiny_dir)}), str(tiny_dir))[0]
    # full fine-tuning on a bf16 GPU: gradients and AdamW's two moments in bf16; 8-bit moments: a byte each
    assert (full.gradients, full.optimizer, eight_bit.optimizer) == (2 * trainable, 4 * trainable, 2 * trainable)
    assert fused.optimizer == 8 * count_trainable(recipe_from_dict(
        {"method": "lora", "base_model": str(tiny_dir)}), str(tiny_dir))[0]  # PEFT's adapters stay float32


def test_the_batch_is_fitted_to_the_free_memory_keeping_the_effective_batch(tiny_dir, monkeypatch):
    import types

    from playground.training.estimate import FIT_SHARE, fit_batch

    recipe = recipe_from_dict({"method": "lora", "base_model": str(tiny_dir), "data": "sentiment", "max_length": 256,
                               "per_device_train_batch_size": 2, "gradient_accumulation_steps": 8, "fit_batch": "on"})
    trainable, total, config = count_trainable(recipe, str(tiny_dir))

    def fitted_with(free_bytes):
        monkeypatch.setattr("psutil.virtual_memory", lambda: types.SimpleNamespace(available=free_bytes))
        out = fit_batch(recipe, config, trainable, total)
        return out.per_device_train_batch_size, out.gradient_accumulation_steps

    four = estimate_memory(dataclasses.replace(recipe, per_device_train_batch_size=4), config, trainable, total).total
    assert fitted_with(four / FIT_SHARE * 1.01) == (4, 4)  # 8 needs more than that
    assert fitted_with(2**50) == (16, 1)
    assert fitted_with(1) == (1, 16)  # nothing fits: the smallest step, and the run will say what it ran out of


def test_an_evaluation_log_has_no_throughput(tmp_path):
    """A validation log repeats the token count of the last training log: no "0 tokens/s" point."""
    import json
    import threading
    import time
    from types import SimpleNamespace

    from playground.runs import EventWriter
    from playground.training.callbacks import RunEvents

    events = RunEvents(tmp_path, EventWriter(tmp_path / "events.jsonl"), stop_event=threading.Event())
    state = SimpleNamespace(global_step=5, epoch=0.5)
    time.sleep(0.01)
    events.on_log(None, state, None, logs={"loss": 2.0, "num_tokens": 500})  # TRL's SFTTrainer's count
    time.sleep(0.01)
    events.on_log(None, state, None, logs={"eval_loss": 2.1, "eval_num_tokens": 500})
    time.sleep(0.01)
    events.on_log(None, state, None, logs={"loss": 1.9, "num_input_tokens_seen": 900})  # a Trainer's
    rows = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert rows[0]["tokens_per_s"] > 0 and "tokens_per_s" not in rows[1] and rows[1]["eval_loss"] == 2.1
    assert rows[2]["tokens_per_s"] > 0


def test_checkpoint_minutes_zero_saves_only_when_stopped(tmp_path):
    """0 keeps a large run's disk free (no checkpoint at the last step); any other value also checkpoints there."""
    import threading
    from types import SimpleNamespace

    from playground.runs import EventWriter
    from playground.training.callbacks import RunEvents

    def saves_at(minutes, step, stop=False):
        stop_event = threading.Event()
        if stop:
            stop_event.set()
        events = RunEvents(tmp_path, EventWriter(tmp_path / f"{minutes}.jsonl"), stop_event=stop_event,
                           checkpoint_minutes=minutes)
        control = SimpleNamespace(should_save=False, should_training_stop=False)
        return events.on_step_end(None, SimpleNamespace(global_step=step, max_steps=10), control).should_save

    assert saves_at(10, 10) and not saves_at(10, 5)
    assert not saves_at(0, 10) and not saves_at(None, 10)
    assert saves_at(0, 5, stop=True)


def test_the_verdict_leaves_room_for_the_estimates_error():
    from playground.training.estimate import MemoryEstimate

    def verdict(total_gib, free_gib):
        return MemoryEstimate(total_gib * 2**30, 0, 0, 0, free_gib * 2**30, "a GPU").verdict()

    assert verdict(7, 10) == "it fits"
    assert verdict(9, 10).startswith("it may not fit")  # within the ±20% the estimate is good to
    assert verdict(11, 10) == "it probably does NOT fit"


def test_trainer_args_may_override_what_every_kind_shares(tiny_dir):
    """A key every kind shares (here the NaN filter config_args turns off) or one a kind sets itself is the
    user's to set again through trainer_args, in every kind; a recipe key is set as a recipe key."""
    from playground.training.direct_alignment import direct_config
    from playground.training.preference_recipes import DPORecipe, RewardRecipe
    from playground.training.reward import reward_config
    from playground.training.sft import sft_config
    from playground.training.trainer_args import check_trainer_config

    again = {"logging_nan_inf_filter": True}
    check_trainer_config(DPORecipe(trainer_args=again), direct_config)
    check_trainer_config(RewardRecipe(trainer_args=again), reward_config)
    from playground.training.trainer_args import config_args

    args = config_args(DPORecipe(trainer_args={"label_smoothing": 0.1}), tiny_dir, 1, evaluate=True, label_smoothing=0.0)
    assert args["label_smoothing"] == 0.1
    with pytest.raises(PlaygroundError, match="trainer_args can't set beta: it is a recipe key"):
        DPORecipe(trainer_args={"beta": 0.3})  # its check (above 0) would be bypassed
    config = sft_config(recipe_from_dict({"method": "lora", "base_model": str(tiny_dir), "trainer_args": again}), tiny_dir, 1)
    assert config.logging_nan_inf_filter and config.loss_type == "chunked_nll"


def test_trainer_args_are_checked_with_the_kinds_own_settings():
    """The check before launch builds the kind's TRL config as its run does, with the kind's own
    arguments: GRPO's trainer_args were checked against TRL's default of 8 replies per prompt, so any
    of them was refused with a batch of 4 (and what TRL refuses with the recipe's 4 was let through)."""
    from playground.training.group_rl import group_config
    from playground.training.preference_recipes import GRPORecipe
    from playground.training.trainer_args import check_trainer_config

    def grpo(**trainer_args):
        return GRPORecipe(reward_model="rm", per_device_train_batch_size=4, num_generations=4, trainer_args=trainer_args)

    check_trainer_config(grpo(steps_per_generation=3), group_config)
    check_trainer_config(grpo(generation_batch_size=12), group_config)
    with pytest.raises(PlaygroundError, match=r"TRL's GRPOConfig refuses these settings \(with trainer_args\): "
                                              r"generation_batch_size \(6\) must be divisible"):
        check_trainer_config(grpo(generation_batch_size=6), group_config)


def test_a_resumed_runs_time_left_is_paced_by_the_steps_since_it_resumed(tmp_path, monkeypatch):
    """Resumed at step 40 of 300, 10 steps in 10 s: 250 steps left at 1 step/s (counting the 40 steps
    done before the stop as done in those 10 s said 34 s)."""
    import json
    import threading
    from types import SimpleNamespace

    from playground.runs import EventWriter
    from playground.training import callbacks

    clock = [1000.0]
    monkeypatch.setattr(callbacks.time, "time", lambda: clock[0])
    events = callbacks.RunEvents(tmp_path, EventWriter(tmp_path / "events.jsonl"), stop_event=threading.Event())
    control = SimpleNamespace(should_save=False, should_training_stop=False)
    events.on_train_begin(None, SimpleNamespace(global_step=40, max_steps=300, num_input_tokens_seen=0), control)
    clock[0] += 10
    events.on_step_end(None, SimpleNamespace(global_step=50, max_steps=300), control)
    progress = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()][-1]
    assert progress["type"] == "progress" and progress["eta_s"] == pytest.approx(250)


def test_a_resumed_run_keeps_its_time_before_the_stop_while_queued_and_after():
    from playground.runs import first_start, seconds_run

    stopped = {"started": 100.0, "finished": 160.0, "earlier_s": 0, "first_started": None}
    queued = stopped | {"first_started": first_start(stopped), "earlier_s": seconds_run(stopped), "started": None,
                        "finished": None}  # what jobs.resume writes for a queued resume
    assert seconds_run(queued) == 60 and first_start(queued) == 100
    cancelled = queued | {"finished": 300.0}  # cancelled while still queued: resumable again
    assert seconds_run(cancelled) == 60
    again = cancelled | {"started": 400.0, "finished": 430.0}
    assert seconds_run(again) == 90 and first_start(again) == 100
    assert seconds_run({"started": None, "finished": None}) is None  # never started


def test_a_resumed_runs_loss_is_its_mean_over_every_step_whose_loss_was_logged():
    from playground.training.loop import whole_run_loss

    history = [{"loss": 4.0, "step": 2}, {"eval_loss": 9.0, "step": 2}, {"loss": 2.0, "step": 6},  # logs before the stop
               {"loss": 1.0, "step": 9}]  # after the resume (its mean is the trainer's number)
    # steps 1-2 at 4.0, 3-6 at 2.0, step 7 unlogged before the stop at 7, steps 8-10 at the resumed mean 1.0
    assert whole_run_loss(history, resumed_from=7, resumed_mean=1.0, last_step=10) == pytest.approx((8 + 8 + 3) / 9)
    assert whole_run_loss([], resumed_from=5, resumed_mean=1.5, last_step=10) == 1.5
