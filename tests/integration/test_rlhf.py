"""Learning from preferences, on the tiny model with seeds fixed: a reward model learns a
synthetic preference (replies with a marker word win) and beats chance on real human preferences
(HH-RLHF); DPO raises the held-out margin, from the base or from an SFT adapter that becomes its own
reference. Each run goes through `python -m playground train` (worker, publishing, run.json).
Bad input is refused before anything starts."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from playground import adapters as adapter_store
from playground import kinds
from playground.errors import PlaygroundError
from playground.settings import Settings
from playground.training.preference_checks import reward_model_folder
from playground.training.preference_recipes import DPORecipe, RewardRecipe
from playground.training.reward import HELD_OUT_FILE, RewardModel
from tests.conftest import SHARED_DATA
from tests.integration.preference_synth import MARKER, marker_pairs, write_pairs

ROOT = Path(__file__).resolve().parents[2]
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


def train(home: Settings, recipe: dict) -> tuple[int, str, dict]:
    """Run a recipe through the CLI; (exit code, its output, the result's run.json or {})."""
    path = home.home / f"{recipe['output_name']}.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    env = os.environ | {"PLAYGROUND_HOME": str(home.home), "PLAYGROUND_ADAPTERS": str(home.adapters_dir)}
    done = subprocess.run([sys.executable, "-m", "playground", "train", str(path), "--overwrite"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    record = adapter_store.read_record(home.adapters_dir / recipe["output_name"])
    return done.returncode, done.stdout + done.stderr[-2000:], record


@pytest.fixture(scope="module")
def reward_run(home, tiny_dir, pairs_file):
    code, output, record = train(home, {"method": "reward", "base_model": str(tiny_dir), "data": str(pairs_file),
                                        "learning_rate": 3e-3, "num_train_epochs": 3, "per_device_train_batch_size": 8,
                                        "max_length": 64, "output_name": "marker-rm"})
    assert code == 0, output
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
    code, output, record = train(home, {"method": "dpo", "base_model": str(tiny_dir), "data": str(pairs_file),
                                        "learning_rate": 3e-3, "num_train_epochs": 2, "per_device_train_batch_size": 8,
                                        "max_length": 64, "output_name": "marker-dpo"})
    assert code == 0, output
    return record


def test_dpo_raises_the_held_out_margin_and_gives_a_generation_adapter(dpo_run, home):
    metrics = dpo_run["metrics"]
    assert metrics["eval_margin_before"] == 0  # the policy starts as its reference
    assert metrics["logp_margin"] > metrics["logp_margin_before"] + 2
    assert metrics["eval_margin"] > 0.3 and metrics["eval_accuracy"] >= 0.9
    generation = adapter_store.for_generation(adapter_store.list_adapters(home.adapters_dir))
    assert "marker-dpo" in [a["name"] for a in generation]
    assert not (home.adapters_dir / "marker-dpo" / "ref").exists()  # only the policy, not a reference copy


def test_dpo_from_an_sft_adapter_keeps_that_adapter_as_its_reference(home, tiny_dir, pairs_file):
    sft_data = home.home / "sft.jsonl"
    sft_data.write_text("".join(json.dumps({"prompt": r["prompt"], "completion": r["rejected"]}) + "\n"
                                for r in marker_pairs(40, seed=1)), encoding="utf-8")
    code, output, _ = train(home, {"method": "lora", "base_model": str(tiny_dir), "data": str(sft_data), "max_steps": 20,
                                   "learning_rate": 3e-3, "max_length": 64, "output_name": "sft-start"})
    assert code == 0, output
    code, output, record = train(home, {"method": "dpo", "base_model": str(tiny_dir), "data": str(pairs_file),
                                        "policy_adapter": "sft-start", "learning_rate": 3e-3, "max_steps": 20,
                                        "per_device_train_batch_size": 8, "max_length": 64,
                                        "output_name": "dpo-from-sft"})
    assert code == 0, output
    # Against the base as reference, the SFT adapter's implicit reward would not be 0 before training.
    assert record["metrics"]["eval_margin_before"] == 0
    assert record["metrics"]["logp_margin"] > record["metrics"]["logp_margin_before"]


@pytest.mark.skipif(not HH_RLHF.exists(), reason=f"reference data not present at {HH_RLHF}")
def test_a_reward_model_beats_chance_on_held_out_human_preferences(home, tiny_dir):
    code, output, record = train(home, {"method": "reward", "base_model": str(tiny_dir), "data": str(HH_RLHF),
                                        "val_fraction": 0.3, "learning_rate": 3e-3, "num_train_epochs": 1,
                                        "per_device_train_batch_size": 16, "max_length": 128, "output_name": "hh-rm"})
    assert code == 0, output
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
