"""Learning from preferences, on the tiny model with seeds fixed: a reward model learns a
synthetic preference (replies with a marker word win) and beats chance on real human preferences
(HH-RLHF); DPO raises the held-out margin, from the base or from an SFT adapter that becomes its own
reference. Each run goes the way `python -m playground train` sends it (the job system's worker,
publishing, run.json; the CLI itself is tested in test_jobs), from this process so that its launcher
imports the libraries once for all of them. Bad input is refused before anything starts."""

import json
import math
import threading
from pathlib import Path

import pytest

from playground import adapters as adapter_store
from playground import kinds
from playground.errors import PlaygroundError
from playground.jobs import JobManager
from playground.runs import LOG_FILE, EventWriter
from playground.settings import Settings
from playground.training.policy_eval import SAMPLES_FILE
from playground.training.ppo import REFERENCE_ADAPTER
from playground.training.preference_checks import reward_model_folder
from playground.training.preference_recipes import DPORecipe, KTORecipe, PPORecipe, RewardRecipe
from playground.training.reward import HELD_OUT_FILE, RewardModel
from tests.conftest import SHARED_DATA
from tests.integration.preference_synth import MARKER, marker_pairs, write_pairs

HH_RLHF = SHARED_DATA / "hh-rlhf" / "harmless-base.test.jsonl.gz"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rlhf")
    return Settings(home=folder / "home", adapters_dir=folder / "adapters", default_model="tiny", hub_offline=True,
                    host="127.0.0.1", port=0)


@pytest.fixture(scope="module")
def pairs_file(home):
    home.ensure_dirs()
    return write_pairs(home.home / "marker-pairs.jsonl", marker_pairs(200, seed=0))


def train(home: Settings, recipe: dict) -> tuple[str, str, dict]:
    """Run a recipe as `train RECIPE --overwrite` does, and wait for it; (its status, its error and the
    end of its log, the result's run.json or {})."""
    kind = kinds.TRAINING_KINDS.get(recipe["method"], "sft")
    run = JobManager(home).run_foreground(kind, kinds.get(kind).recipe_class.from_dict(recipe), overwrite=True)
    log = Path(run["run_dir"]) / LOG_FILE
    output = f"{run['error']}\n{log.read_text(encoding='utf-8', errors='replace')[-3000:] if log.exists() else ''}"
    return run["status"], output, adapter_store.read_record(home.adapters_dir / recipe["output_name"])


@pytest.fixture(scope="module")
def reward_run(home, tiny_dir, pairs_file):
    status, output, record = train(home, {"method": "reward", "base_model": str(tiny_dir), "data": str(pairs_file),
                                        "learning_rate": 3e-3, "num_train_epochs": 3, "per_device_train_batch_size": 8,
                                        "max_length": 64, "output_name": "marker-rm"})
    assert status == "finished", output
    return record


def test_the_reward_model_learns_the_marker_preference(reward_run, home):
    metrics = reward_run["metrics"]
    assert metrics["eval_accuracy_before"] <= 0.75  # a random head: about chance
    assert metrics["eval_accuracy"] >= 0.9 and metrics["eval_margin"] > metrics["eval_margin_before"] + 1
    assert reward_run["output"] == "reward_model" and reward_run["held_out_pairs"] == 40

    folder = reward_model_folder(home, "marker-rm")
    held_out = [json.loads(line) for line in (folder / HELD_OUT_FILE).read_text().splitlines()]
    assert sum(r["chosen_reward"] > r["rejected_reward"] for r in held_out) >= 0.9 * len(held_out)
    scorer = RewardModel(folder, home)  # reloaded from disk: LoRA and its score head (modules_to_save)
    prompt = "Tell me about the river."
    with_marker, without = scorer.score([(prompt, f"the small {MARKER} bird house road"),
                                         (prompt, "the small green bird house road")])
    assert with_marker > without
    assert held_out[0]["chosen_reward"] == pytest.approx(scorer.score([(held_out[0]["prompt"], held_out[0]["chosen"])])[0],
                                                          abs=1e-4)


def test_a_reward_model_is_never_offered_for_generation(reward_run, home):
    listed = {a["name"]: a for a in adapter_store.list_adapters(home.adapters_dir)}
    assert listed["marker-rm"]["output"] == "reward_model"
    assert "marker-rm" not in [a["name"] for a in adapter_store.for_generation(list(listed.values()))]


@pytest.fixture(scope="module")
def dpo_run(home, tiny_dir, pairs_file):
    status, output, record = train(home, {"method": "dpo", "base_model": str(tiny_dir), "data": str(pairs_file),
                                        "learning_rate": 3e-3, "num_train_epochs": 2, "per_device_train_batch_size": 8,
                                        "max_length": 64, "output_name": "marker-dpo"})
    assert status == "finished", output
    return record


def test_dpo_raises_the_held_out_margin_and_gives_a_generation_adapter(dpo_run, home):
    metrics = dpo_run["metrics"]
    assert metrics["eval_margin_before"] == 0  # the policy starts as its reference
    assert metrics["logp_margin"] > metrics["logp_margin_before"] + 2
    assert metrics["eval_margin"] > 0.3 and metrics["eval_accuracy"] >= 0.9
    generation = adapter_store.for_generation(adapter_store.list_adapters(home.adapters_dir))
    assert "marker-dpo" in [a["name"] for a in generation]
    assert not (home.adapters_dir / "marker-dpo" / "ref").exists()  # only the policy, not a reference copy


@pytest.fixture(scope="module")
def sft_adapter(home, tiny_dir):
    """A LoRA fine-tuned on replies of both kinds (with and without the marker): the SFT step before RLHF."""
    sft_data = home.home / "sft.jsonl"
    sft_data.write_text("".join(json.dumps({"prompt": r["prompt"], "completion": reply}) + "\n"
                                for r in marker_pairs(200, seed=7) for reply in (r["chosen"], r["rejected"])),
                        encoding="utf-8")
    status, output, _ = train(home, {"method": "lora", "base_model": str(tiny_dir), "data": str(sft_data), "max_steps": 80,
                                   "learning_rate": 3e-3, "per_device_train_batch_size": 8, "max_length": 64,
                                   "output_name": "sft-start"})
    assert status == "finished", output
    return "sft-start"


def test_dpo_from_an_sft_adapter_keeps_that_adapter_as_its_reference(home, tiny_dir, pairs_file, sft_adapter):
    status, output, record = train(home, {"method": "dpo", "base_model": str(tiny_dir), "data": str(pairs_file),
                                        "policy_adapter": sft_adapter, "learning_rate": 3e-3, "max_steps": 20,
                                        "per_device_train_batch_size": 8, "max_length": 64,
                                        "output_name": "dpo-from-sft"})
    assert status == "finished", output
    # Against the base as reference, the SFT adapter's implicit reward would not be 0 before training.
    assert record["metrics"]["eval_margin_before"] == 0
    assert record["metrics"]["logp_margin"] > record["metrics"]["logp_margin_before"]


def test_kto_learns_from_replies_marked_good_or_bad(home, tiny_dir):
    """KTO from TRL's unpaired format: replies with the marker are good, the others bad (not in pairs)."""
    rows = [{"prompt": r["prompt"], "completion": reply, "label": good}
            for i, r in enumerate(marker_pairs(400, seed=3)) for reply, good in ((r["chosen"], True), (r["rejected"], False))
            if (i % 2 == 0) == good]  # one side of each pair only: nothing is paired
    home.ensure_dirs()
    data = home.home / "marker-unpaired.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"prompt": "p", "completion": "c", "label": "yes"}\n',
                    encoding="utf-8")
    status, output, record = train(home, {"method": "kto", "base_model": str(tiny_dir), "data": str(data),
                                        "learning_rate": 2e-3, "num_train_epochs": 2, "per_device_train_batch_size": 8,
                                        "max_length": 64, "output_name": "marker-kto"})
    assert status == "finished", output
    metrics = record["metrics"]
    assert metrics["eval_margin_before"] == pytest.approx(0, abs=1e-4)  # the policy starts as its reference
    assert metrics["eval_margin"] > 0.3, metrics  # good replies' implicit reward now above bad ones'
    assert metrics["logp_margin"] > metrics["logp_margin_before"] + 2, metrics
    assert "400 labeled replies" in record["pairs"] and "line 401" in record["pairs"]  # the bad line, reported
    assert "marker-kto" in [a["name"] for a in adapter_store.for_generation(adapter_store.list_adapters(home.adapters_dir))]


def test_kto_needs_good_and_bad_replies(home, tiny_dir):
    home.ensure_dirs()
    data = home.home / "all-good.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"q{i}", "completion": "fine", "label": True}) + "\n" for i in range(20)),
                    encoding="utf-8")
    with pytest.raises(PlaygroundError, match="All 20 labeled replies are good: KTO needs good and bad ones"):
        kinds.get("kto").check(KTORecipe(base_model=str(tiny_dir), data=str(data)), home)
    with pytest.raises(PlaygroundError, match="batch of at least 2"):
        KTORecipe.from_dict({"method": "kto", "base_model": str(tiny_dir), "per_device_train_batch_size": 1})


def test_ppo_raises_the_held_out_reward_with_bounded_kl(home, pairs_file, reward_run, sft_merged):
    status, output, record = train(home, {"method": "ppo", "base_model": sft_merged, "data": str(pairs_file),
                                        "reward_model": "marker-rm", "val_fraction": 0.3,
                                        "learning_rate": 1e-3, "total_episodes": 768, "per_device_train_batch_size": 8,
                                        "num_ppo_epochs": 4, "response_length": 16, "max_length": 64, "temperature": 1.0,
                                        # a KL price that keeps this fast learning rate near the reference: over
                                        # 4 seeds the paired change's 95% low bound was 0.32-0.79 (KL 0.6-3.4 nats);
                                        # at TRL's 0.05 it reached KL 11 and once fell below 0
                                        "kl_coef": 0.2, "output_name": "marker-ppo"})
    assert status == "finished", output
    metrics = record["metrics"]
    assert metrics["reward_change_low"] > 0, metrics  # the 95% interval of the paired change is above 0
    assert metrics["reward_after"] > metrics["reward_before"]
    assert 0 < metrics["kl"] < 20  # nats over a 16-token reply: it moved, and stayed near its reference
    samples = [json.loads(line) for line in (home.adapters_dir / "marker-ppo" / SAMPLES_FILE).read_text().splitlines()]
    assert len(samples) == record["held_out_prompts"] >= 30
    events = [json.loads(line) for line in (home.home / "runs" / record["run_id"] / "events.jsonl").read_text().splitlines()]
    sampled = [e for e in events if e["type"] == "samples"]  # every 10 of the 96 updates, and the last
    assert [e["step"] for e in sampled] == [*range(10, 100, 10), 96]
    assert all(len(e["rows"]) == 4 and all(isinstance(r["reward"], float) and r["prompt"] for r in e["rows"]) for e in sampled)
    logged = [e for e in events if e["type"] == "log"]
    assert len(logged) >= 32 and {"objective/scores", "objective/kl", "objective/rlhf_reward", "objective/entropy",
                                  "response_length", "loss/value_avg"} <= set(logged[-1])  # the live charts' series
    generation = adapter_store.for_generation(adapter_store.list_adapters(home.adapters_dir))
    assert "marker-ppo" in [a["name"] for a in generation]
    assert not (home.adapters_dir / "marker-ppo" / REFERENCE_ADAPTER).exists()


def test_another_scorer_judges_the_same_held_out_replies_and_is_kept_with_the_run(home, tiny_dir, pairs_file, reward_run,
                                                                                 sft_merged):
    """The run's own reward model, as 'another scorer', gives back exactly the run's own numbers; a
    classifier (a folder here, a Hub id online) scores by one label's probability; both are kept."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from playground.store import Store
    from playground.training.scorers import load_scorer, rescore

    store = Store(home.home / "playground.db")
    run = store.find("marker-ppo")
    if run is None:  # this test alone: a short PPO run of its own
        status, output, _ = train(home, {"method": "ppo", "base_model": sft_merged, "data": str(pairs_file),
                                       "reward_model": "marker-rm", "val_fraction": 0.3, "total_episodes": 16,
                                       "per_device_train_batch_size": 8, "response_length": 8, "max_length": 64,
                                       "output_name": "marker-ppo"})
        assert status == "finished", output
        run = store.find("marker-ppo")
    same = rescore(store, run, load_scorer(home, "marker-rm"))
    for key in ("reward_before", "reward_after", "reward_change_low"):
        assert same[key] == pytest.approx(run["metrics"][key], abs=1e-4)

    folder = home.home / "classifier"
    classifier = AutoModelForSequenceClassification.from_pretrained(str(tiny_dir), num_labels=2,
                                                                    id2label={0: "plain", 1: "polite"})
    torch.manual_seed(0)
    classifier.score.weight.data.normal_(0, 1.0)
    classifier.save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(tiny_dir)).save_pretrained(folder)
    with pytest.raises(PlaygroundError, match="has 2 labels \\(plain, polite\\): name the one"):
        load_scorer(home, str(folder))
    with pytest.raises(PlaygroundError, match="has no label 'toxic': its labels are plain, polite"):
        load_scorer(home, str(folder), "toxic")
    with pytest.raises(PlaygroundError, match="not a reward model"):
        load_scorer(home, "sft-start")
    polite = rescore(store, store.find("marker-ppo"), load_scorer(home, str(folder), "polite"))
    assert 0 <= polite["reward_before"] <= 1 and polite["reward_change_low"] <= polite["reward_change"] <= polite["reward_change_high"]

    kept = store.find("marker-ppo")["metrics"]["scored_by"]
    assert set(kept) == {"marker-rm", f"{folder} · P(polite)"}
    assert adapter_store.read_record(home.adapters_dir / "marker-ppo")["metrics"]["scored_by"] == kept


@pytest.fixture(scope="module")
def sft_merged(home, tiny_dir, sft_adapter):
    """The SFT adapter folded into its base: RLOO and GRPO start from a model (their reference is the start)."""
    return str(adapter_store.merge(home.adapters_dir, sft_adapter, str(tiny_dir), "sft-merged"))


@pytest.mark.parametrize("method", ["grpo", "rloo"])
def test_rloo_and_grpo_raise_the_held_out_reward(home, pairs_file, reward_run, sft_merged, method):
    status, output, record = train(home, {"method": method, "base_model": sft_merged, "data": str(pairs_file),
                                        "reward_model": "marker-rm", "val_fraction": 0.3, "learning_rate": 3e-3,
                                        "max_steps": 100, "per_device_train_batch_size": 8, "num_generations": 4,
                                        "response_length": 16, "max_length": 64, "output_name": f"marker-{method}"})
    assert status == "finished", output
    metrics = record["metrics"]
    assert metrics["reward_change_low"] > 0, metrics
    # KL per 16-token reply, measured on held-out replies (21 seen for RLOO): it moved, and its KL penalty
    # kept it from running away (under 3 nats a token)
    assert 0 < metrics["kl"] < 3 * 16, metrics
    assert record["recipe"]["beta"] == (0.04 if method == "grpo" else 0.05)  # GRPO's KL weight is set, not TRL's 0
    assert len((home.adapters_dir / f"marker-{method}" / SAMPLES_FILE).read_text().splitlines()) == record["held_out_prompts"]


@pytest.mark.skipif(not HH_RLHF.exists(), reason=f"reference data not present at {HH_RLHF}")
def test_a_reward_model_beats_chance_on_held_out_human_preferences(home, tiny_dir):
    status, output, record = train(home, {"method": "reward", "base_model": str(tiny_dir), "data": str(HH_RLHF),
                                        "val_fraction": 0.3, "learning_rate": 3e-3, "num_train_epochs": 1,
                                        "per_device_train_batch_size": 16, "max_length": 128, "output_name": "hh-rm"})
    assert status == "finished", output
    held_out = [json.loads(line) for line in (home.adapters_dir / "hh-rm" / HELD_OUT_FILE).read_text().splitlines()]
    n, right = len(held_out), sum(r["chosen_reward"] > r["rejected_reward"] for r in held_out)
    assert n > 600
    z = (right - n / 2) / math.sqrt(n / 4)  # one-sided binomial test against a coin, normal approximation
    assert z > 1.645, f"{right}/{n} held-out pairs ranked right: not better than chance at 5%"
    assert "lines left out" in record["pairs"]  # the file's pairs with an empty reply are skipped and reported


# ---- bad input starts nothing ----
def test_too_few_pairs_says_how_many_are_needed(home, tiny_dir):
    few = write_pairs(home.home / "few.jsonl", marker_pairs(7))
    with pytest.raises(PlaygroundError, match=r"Too few preference pairs: 7, and at least 12 are needed"):
        kinds.get("reward").check(RewardRecipe(base_model=str(tiny_dir), data=str(few)), home)


def test_a_reward_model_is_refused_as_a_policy_and_an_adapter_as_a_reward_model(reward_run, dpo_run, home, tiny_dir,
                                                                                 pairs_file):
    with pytest.raises(PlaygroundError, match="is a reward model"):
        kinds.get("dpo").check(DPORecipe(base_model=str(tiny_dir), data=str(pairs_file), policy_adapter="marker-rm"), home)
    with pytest.raises(PlaygroundError, match="not a reward model"):
        reward_model_folder(home, "marker-dpo")
    with pytest.raises(PlaygroundError, match="needs a reward model"):
        reward_model_folder(home, "")


def test_bad_recipes_are_refused_with_what_to_change(home, tiny_dir, pairs_file):
    with pytest.raises(PlaygroundError, match="neither 'labels'"):
        kinds.get("reward").check(RewardRecipe(base_model=str(tiny_dir), data="/no/such/file.jsonl"), home)
    with pytest.raises(PlaygroundError, match="val_fraction must be above 0"):
        RewardRecipe.from_dict({"val_fraction": 0})
    with pytest.raises(PlaygroundError, match="beta must be above 0"):
        DPORecipe.from_dict({"method": "dpo", "beta": "0"})
    with pytest.raises(PlaygroundError, match="neither recipe keys .* nor fields of LoraConfig or TRL's RewardConfig"):
        RewardRecipe.from_dict({"method": "reward", "no_such_key": 1})
    recipe = RewardRecipe.from_dict({"method": "reward", "center_rewards_coefficient": "0.01", "base_model": str(tiny_dir),
                                     "data": str(pairs_file)})
    assert recipe.trainer_args == {"center_rewards_coefficient": 0.01}  # a RewardConfig field passes through


# ---- PPO's known traps ----
def test_ppo_scores_each_reply_on_its_eos_token_not_the_pad_after_it(home, tiny_dir, pairs_file, reward_run, sft_adapter,
                                                                     tmp_path, monkeypatch):
    """trl #3750: TRL 1.12 adds the score at the first pad after EOS; the playground's patch puts it on EOS."""
    from playground.training import ppo

    made = {}
    patched = ppo.ppo_trainer_class()

    class Capturing(patched):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            made["trainer"] = self

    monkeypatch.setattr(ppo, "ppo_trainer_class", lambda: Capturing)
    recipe = PPORecipe(base_model=str(tiny_dir), data=str(pairs_file), reward_model="marker-rm", policy_adapter=sft_adapter,
                       total_episodes=32, per_device_train_batch_size=32, num_ppo_epochs=1, response_length=16,
                       max_length=64, temperature=1.0, val_fraction=0.3)
    ctx = kinds.RunContext(run_id="trap", name="trap", run_dir=tmp_path, settings=home,
                           writer=EventWriter(tmp_path / "events.jsonl"), stop=threading.Event())
    ppo.train_ppo(recipe, str(tiny_dir), ctx)
    positions, responses = made["trainer"].score_positions
    eos = made["trainer"].processing_class.eos_token_id
    ended = [(at, reply) for at, reply in zip(positions, responses) if eos in reply]
    assert ended, "no reply ended within 16 tokens: the check would prove nothing"
    assert all(reply[at] == eos for at, reply in ended)
    assert all(at == len(reply) - 1 for at, reply in zip(positions, responses) if eos not in reply)


def test_a_pad_token_equal_to_eos_is_replaced_by_a_distinct_one(tiny_dir):
    from transformers import AutoTokenizer

    from playground.training.ppo import PAD_TOKEN, ensure_distinct_pad

    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    assert not ensure_distinct_pad(tokenizer)  # the tiny model's pad is already its own token
    tokenizer.pad_token = tokenizer.eos_token
    assert ensure_distinct_pad(tokenizer)
    assert tokenizer.pad_token == PAD_TOKEN and tokenizer.pad_token_id != tokenizer.eos_token_id


def test_ppo_refuses_a_reward_model_on_another_tokenizer_and_a_missing_or_wrong_one(home, tiny_dir, pairs_file,
                                                                                   reward_run, sft_adapter):
    from playground.tiny_model import build_tokenizer

    other = home.adapters_dir / "other-tokenizer-rm"
    other.mkdir(exist_ok=True)
    build_tokenizer(vocab_size=1024).save_pretrained(other)
    (other / "run.json").write_text(json.dumps({"output": "reward_model", "method": "reward"}), encoding="utf-8")
    check = kinds.get("ppo").check
    base = {"base_model": str(tiny_dir), "data": str(pairs_file), "val_fraction": 0.3}
    with pytest.raises(PlaygroundError, match="another tokenizer"):
        check(PPORecipe(**base, reward_model="other-tokenizer-rm"), home)
    with pytest.raises(PlaygroundError, match="PPO needs a reward model"):
        PPORecipe.from_dict({"method": "ppo", **base})
    with pytest.raises(PlaygroundError, match="not a reward model"):
        check(PPORecipe(**base, reward_model=sft_adapter), home)
    with pytest.raises(PlaygroundError, match="is a reward model"):
        check(PPORecipe(**base, reward_model="marker-rm", policy_adapter="marker-rm"), home)
    assert check(PPORecipe(**base, reward_model="marker-rm", policy_adapter=sft_adapter), home)  # the good one passes


@pytest.mark.parametrize("method", ["reward", "dpo"])
def test_a_stopped_reward_or_dpo_run_resumes_as_the_same_run(home, tiny_dir, pairs_file, method):
    from playground.training.preference_recipes import PREFERENCE_RECIPES
    from tests.integration.helpers import ended, logged_losses, wait_for

    jobs = JobManager(home)
    name = f"resumed-{method}"
    recipe = PREFERENCE_RECIPES[method].from_dict({"method": method, "base_model": str(tiny_dir), "data": str(pairs_file), "max_steps": 40,
                                 "learning_rate": 3e-3, "per_device_train_batch_size": 8, "max_length": 64,
                                 "checkpoint_minutes": 0, "output_name": name})
    run = jobs.submit(method, recipe)
    wait_for(lambda: len(logged_losses(jobs, run["id"])) >= 6, timeout=300, what="6 logged steps")
    jobs.cancel(name)
    wait_for(ended(jobs, name), timeout=120, what="the stop")
    stopped = jobs.get(name)
    assert stopped["status"] == "stopped"
    stop_step = stopped["metrics"].get("stopped_at_step")
    assert [e["step"] for e in jobs.events(run["id"])[0] if e["type"] == "checkpoint"] == [stop_step]
    measured_before = {k: v for k, v in stopped["metrics"].items() if k.endswith("_before")}
    assert measured_before  # held-out accuracy or margin before training

    done = jobs.resume(name, foreground=True)
    assert done["id"] == run["id"] and done["status"] == "finished", done["error"]
    steps = [s for s, _ in logged_losses(jobs, run["id"])]
    assert [s for s in steps if s > stop_step][0] == stop_step + 1 and steps[-1] == 40  # none twice, none skipped
    assert {k: done["metrics"][k] for k in measured_before} == measured_before  # the starting point is the first one
    assert (home.adapters_dir / name / "adapter_model.safetensors").exists()
