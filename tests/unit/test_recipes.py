import dataclasses

import pytest
import yaml

from playground.errors import PlaygroundError
from playground.training.recipes import RECIPES, load_recipe, recipe_from_dict


def test_every_method_has_a_recipe_that_round_trips_through_yaml():
    assert set(RECIPES) == {"full", "lora", "qlora", "prompt_tuning", "selective", "ia3"}
    for method in RECIPES:
        recipe = recipe_from_dict({"method": method, "data": "sentiment"})
        again = recipe_from_dict(yaml.safe_load(recipe.to_yaml()))
        assert again == recipe and again.method == method


def test_set_overrides_are_coerced_to_field_types(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("method: lora\ndata: sentiment\n")
    recipe = load_recipe(path, ["lora_r=4", "learning_rate=0.01", "packing=true", "data_mix=[{data: summarization, weight: 2}]"])
    assert (recipe.lora_r, recipe.learning_rate, recipe.packing) == (4, 0.01, True)
    assert recipe.data_mix == [{"data": "summarization", "weight": 2}]


@pytest.mark.parametrize("values, message", [
    ({"method": "magic"}, "Unknown method"),
    ({"method": "full", "learning_rate": 0}, "learning_rate"),
    ({"method": "full", "learning_rate": -1e-4}, "learning_rate"),
    ({"method": "lora", "learning_rate": 2e1}, "learning_rate must be at most 1 \\(got 20\\)"),  # 2e1 for 2e-1
    ({"method": "prompt_tuning", "learning_rate": 1e9}, "learning_rate must be at most 1"),
    ({"method": "lora", "lora_r": 0}, "lora_r"),
    ({"method": "lora", "target_modules": "everything"}, "target_modules"),
    ({"method": "full", "max_length": 0}, "max_length"),
    ({"method": "full", "output_name": "a/b"}, "not allowed"),
    ({"method": "full", "output_name": ".."}, "not allowed"),
    ({"method": "full", "output_name": "x..y"}, "not allowed"),
    ({"method": "full", "colour": "red"}, "Unknown recipe keys"),
    ({"method": "full", "num_train_epochs": 0, "max_steps": -1}, "num_train_epochs"),
    ({"method": "prompt_tuning", "num_virtual_tokens": 0}, "num_virtual_tokens"),
    ({"method": "full", "report_to": "mlflow"}, "report_to"),
    ({"method": "full", "template": "custom", "custom_template": "nothing"}, "{input}"),
    ({"method": "full", "data_mix": [{"data": "x", "weight": 0}]}, "weight"),
])
def test_bad_recipes_are_explained(values, message):
    with pytest.raises(PlaygroundError, match=message):
        recipe_from_dict(values)


def test_bad_yaml_and_bad_set(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("method: [unclosed\n")
    with pytest.raises(PlaygroundError, match="not valid YAML"):
        load_recipe(path)
    path.write_text("method: lora\n")
    with pytest.raises(PlaygroundError, match="key=value"):
        load_recipe(path, ["lora_r"])
    with pytest.raises(PlaygroundError, match="needs a whole number, got"):
        load_recipe(path, ["lora_r=big"])


def test_with_method_keeps_data_and_schedule():
    lora = recipe_from_dict({"method": "lora", "data": "sentiment", "max_steps": 7, "lora_r": 4})
    prompt = lora.with_method("prompt_tuning")
    assert prompt.method == "prompt_tuning" and prompt.max_steps == 7 and prompt.data == "sentiment"
    assert "python -m playground train" in lora.cli_command()


def test_keys_of_the_peft_config_or_trls_config_pass_through_checked(tmp_path, tiny_dir):
    path = tmp_path / "r.yaml"
    path.write_text("method: lora\ndata: sentiment\nuse_dora: true\nweight_decay: 0.01\n")
    recipe = load_recipe(path, ["lr_scheduler_type=cosine"])
    assert recipe.peft_args == {"use_dora": True}
    assert recipe.trainer_args == {"weight_decay": 0.01, "lr_scheduler_type": "cosine"}
    assert recipe.peft_config(str(tiny_dir)).use_dora is True
    again = recipe_from_dict(yaml.safe_load(recipe.to_yaml()))
    assert again == recipe  # round-trips through YAML
    with pytest.raises(PlaygroundError, match="neither recipe keys .* nor fields of LoraConfig or TRL's SFTConfig"):
        recipe_from_dict({"method": "lora", "data": "sentiment", "no_such_knob": 1})
    with pytest.raises(PlaygroundError, match="neither recipe keys"):
        recipe_from_dict({"method": "full", "data": "sentiment", "use_dora": True})  # full fine-tuning has no PEFT config
    with pytest.raises(PlaygroundError, match="can't set output_dir"):
        recipe_from_dict({"method": "full", "data": "sentiment", "trainer_args": {"output_dir": "/tmp/x"}})


def test_max_steps_is_said_in_epochs_before_launch_with_a_warning_when_that_is_many():
    from playground.training.sft_kind import max_steps_note

    long = recipe_from_dict({"method": "lora", "data": "sentiment", "max_steps": 100_000, "per_device_train_batch_size": 8,
                             "gradient_accumulation_steps": 2})
    assert max_steps_note(long, 32) == (
        "Max steps (100,000) replaces the epochs setting: one epoch of the 32 training examples is 2 steps (batch 8 × 2 "
        "accumulation), so this run is about 50,000.0 epochs. That many passes over the same examples learns them by heart "
        "(overfitting): watch the validation loss.")
    short = recipe_from_dict({"method": "lora", "data": "sentiment", "max_steps": 10})
    assert "overfitting" not in max_steps_note(short, 40)


def test_steps_are_counted_as_the_trainer_counts_them():
    """transformers' Trainer makes the last, shorter batch a step, and the last, shorter accumulation
    one too: 33 rows in batches of 8 are 5 batches, 3 optimizer steps with accumulation 2."""
    from playground.training.trainer_args import steps_per_epoch, total_steps

    recipe = recipe_from_dict({"method": "lora", "data": "sentiment", "per_device_train_batch_size": 8,
                               "gradient_accumulation_steps": 2, "num_train_epochs": 1.5})
    assert steps_per_epoch(recipe, 33) == 3
    assert total_steps(recipe, 33) == 5  # ceil(1.5 x 3), as the Trainer's max_steps
    assert steps_per_epoch(recipe, 1) == 1
    # two processes (DDP): each reads 17 of the 33 rows, 3 batches, 2 steps
    assert steps_per_epoch(dataclasses.replace(recipe, num_processes=2), 33) == 2
    assert total_steps(recipe_from_dict({"method": "lora", "data": "sentiment", "max_steps": 7}), 33) == 7


def test_selective_blocks_are_the_decoder_only_models_own_layers_and_unknown_ones_are_refused(tiny_dir):
    """The stack selective fine-tuning cuts is model.model.layers, as before blocks.py; a model whose
    block class nothing names (OpenAI's first GPT) is refused rather than trained with nothing unfrozen."""
    from transformers import AutoModelForCausalLM, OpenAIGPTConfig, OpenAIGPTLMHeadModel

    from playground.errors import PlaygroundError
    from playground.training.blocks import block_stacks

    model = AutoModelForCausalLM.from_pretrained(tiny_dir)
    assert [s is model.model.layers for s in block_stacks(model)] == [True]
    with pytest.raises(PlaygroundError, match="blocks of a 'openai-gpt' model are not known"):
        block_stacks(OpenAIGPTLMHeadModel(OpenAIGPTConfig(vocab_size=100, n_embd=16, n_layer=2, n_head=2)))
