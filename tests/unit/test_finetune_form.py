"""The Fine-tune form without a browser: values by name become the recipe of the chosen method,
and each method's own settings come from its recipe class (one place to add a setting)."""

import dataclasses

import pytest

from pages.finetune import METHOD_TITLES, FormLayout
from playground.training.recipes import RECIPES, own_options


def layout():
    return FormLayout(shared=["learning_rate", "max_steps", "output_name", "seed"],
                      own={key: [f.name for f in own_options(cls)] for key, cls in RECIPES.items()})


def values_for(method, own_values):
    values = ["tiny", METHOD_TITLES[method], "sentiment", None, None, 0.01, 7, " my-run ", None]
    for key, cls in RECIPES.items():
        for f in own_options(cls):
            values.append(own_values.get(f.name, f.default) if key == method else "ignored")
    return values


def test_the_form_becomes_the_chosen_methods_recipe():
    form = layout().read(values_for("lora", {"lora_r": 8.0, "target_modules": "attention"}))
    recipe = form.recipe()
    assert (recipe.method, recipe.base_model, recipe.data) == ("lora", "tiny", "sentiment")
    assert (recipe.lora_r, recipe.target_modules, recipe.learning_rate, recipe.max_steps) == (8, "attention", 0.01, 7)
    assert isinstance(recipe.lora_r, int) and recipe.output_name == "my-run"
    assert recipe.seed == RECIPES["lora"]().seed  # an emptied number box keeps the default


def test_every_methods_own_settings_are_on_the_form():
    for key, cls in RECIPES.items():
        own = {f.name for f in dataclasses.fields(cls)} - {f.name for f in dataclasses.fields(RECIPES["full"])}
        assert own == {f.name for f in own_options(cls)}, key  # none is left without a label and a control
        recipe = layout().read(values_for(key, {})).recipe()
        assert recipe.method == key


def test_the_tabs_actions_work_without_a_browser(tmp_path, tiny_dir, monkeypatch):
    import pytest

    from pages.common import AppContext
    from pages.finetune import cost_report, delete_adapter, remove_ended_runs, rename_adapter, training_preview
    from playground.access import Access
    from playground.errors import PlaygroundError
    from playground.jobs import JobManager
    from playground.models import ModelManager
    from playground.settings import Settings
    from playground.training.recipes import recipe_from_dict

    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PLAYGROUND_ADAPTERS", str(tmp_path / "adapters"))
    settings = Settings.from_env()
    settings.ensure_dirs()
    ctx = AppContext(models=ModelManager(settings), jobs=JobManager(settings), start_model="tiny", access=Access(settings))
    recipe = recipe_from_dict({"method": "lora", "base_model": str(tiny_dir), "data": "sentiment"})

    rows, message = training_preview(ctx.models, recipe)
    assert len(rows) == 20 and list(rows.columns) == ["prompt", "completion", "source"] and "training" in message
    assert "chat template as a user turn" in message  # the tiny model has one: what training does with a prompt
    report, figure = cost_report(ctx.models, recipe)
    assert "trainable parameters" in report and "Estimated peak memory for LoRA" in report
    assert list(figure.data[0].x) == list(METHOD_TITLES.values())  # every method compared
    assert "0.00" not in report and "gradients 0.172 MiB" in report  # the tiny model's parts in a unit that shows them
    # on the tiny model LoRA's own activations outweigh what it saves, and the page says why
    assert "On a model this small" in report

    with pytest.raises(PlaygroundError, match="Tick 'Yes, remove' first"):
        remove_ended_runs(ctx.jobs, None, confirmed=False, everything=True)
    (settings.adapters_dir / "a").mkdir()
    with pytest.raises(PlaygroundError, match="Tick 'Yes, delete it' first"):
        delete_adapter(ctx, "a", "", False)
    assert (settings.adapters_dir / "a").is_dir()
    assert rename_adapter(ctx, "a", "b") == ("Renamed 'a' to 'b'.", "b")
    assert delete_adapter(ctx, "b", "", True) == ("Deleted 'b'.", None) and not (settings.adapters_dir / "b").exists()


def test_a_refusal_names_the_forms_fields_not_the_recipe_keys():
    from pages.common import in_form_words
    from playground.errors import PlaygroundError

    @in_form_words({"num_train_epochs": "Epochs", "max_steps": "Max steps", "seed": "Seed"})
    def launch():
        raise PlaygroundError("Set num_train_epochs above 0, or max_steps above 0 (the seed is fine).")

    with pytest.raises(PlaygroundError) as refused:
        launch()
    assert str(refused.value) == "Set 'Epochs' above 0, or 'Max steps' above 0 (the seed is fine)."


def test_prompt_tunings_starting_text_follows_a_built_in_set_unless_written_by_hand():
    from pages.finetune import init_text_for

    assert init_text_for("sentiment", "Summarize the following conversation.") == (
        "Classify the sentiment of each review as positive or negative.")
    assert init_text_for("summarization", "Classify the sentiment of each review as positive or negative.") == (
        "Summarize each conversation in one or two sentences.")
    assert init_text_for("sentiment", "Rate this movie review.") is None  # the person's own text stays
    assert init_text_for("my-data.jsonl", "Summarize the following conversation.") is None


def test_the_selective_block_slider_follows_the_model(tmp_path, tiny_dir):
    """'Last N blocks' reaches the picked model's block count (not a fixed 48), and a value above
    it comes down; a model whose config can't be read leaves the slider as it is."""
    from pages.finetune import selective_blocks_update
    from playground.models import ModelManager
    from playground.settings import Settings
    from playground.tiny_model import build_tiny_seq2seq

    models = ModelManager(Settings.from_env())
    t5 = build_tiny_seq2seq(tmp_path / "t5", layers=3)
    update = selective_blocks_update(models, str(t5), 40)
    assert (update["maximum"], update["value"]) == (3, 3)
    assert "3 and 3 blocks (encoder and decoder)" in update["info"]
    update = selective_blocks_update(models, str(tiny_dir), 1)
    assert update["value"] == 1 and update["maximum"] >= 1 and "encoder" not in update["info"]
    assert selective_blocks_update(models, str(tmp_path / "no-such-model"), 5) == {"__type__": "update"}
    from transformers import BartConfig

    from playground.training.blocks import block_counts

    assert block_counts(BartConfig(encoder_layers=12, decoder_layers=6)) == [12, 6]  # BART names its decoder's its own way


def test_the_preview_shows_the_data_when_the_model_cant_be_read(tmp_path, monkeypatch):
    from pages.finetune import training_preview
    from playground.models import ModelManager
    from playground.settings import Settings
    from playground.training.recipes import recipe_from_dict

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    recipe = recipe_from_dict({"method": "lora", "base_model": "nobody/not-downloaded", "data": "sentiment"})
    rows, message = training_preview(ModelManager(Settings.from_env()), recipe)
    assert len(rows) == 20 and "can't be read now" in message and "not downloaded yet" in message


def test_the_copied_recipe_says_when_its_data_is_an_uploads_temporary_copy(tmp_path):
    from pages.finetune import recipe_file_text
    from playground.access import upload_root
    from playground.training.recipes import recipe_from_dict

    uploaded = recipe_from_dict({"method": "lora", "data": str(upload_root() / "3f2a" / "qa.csv")})
    assert recipe_file_text(uploaded).startswith("# data: this app's temporary copy of the uploaded qa.csv")
    assert not recipe_file_text(recipe_from_dict({"method": "lora", "data": "sentiment"})).startswith("#")
