"""Encoder-decoder models (FLAN-T5's architecture, built tiny in code): the same decoding path as
decoder-only models gives what transformers' own generate gives, prompts have the encoder's whole
window, references are scored by the decoder, every fine-tuning method builds on it as its paper
did on T5, and RLHF refuses it before anything starts."""

import pytest
import torch

from playground import icl, kinds
from playground.data import BUILTIN_TASKS, load_builtin
from playground.errors import PlaygroundError
from playground.evaluation.likelihood import reference_nll
from playground.generation import (
    DecodingParams,
    encode,
    generate,
    generate_many,
    next_token_distribution,
    sample_n,
    stream,
)
from playground.jobs import JobManager
from playground.training.recipes import recipe_from_dict

PROMPT = "Summarize the following conversation."
PROMPTS = [PROMPT, "Hi", "Question: what comes after January? Answer: the month of"]


def hf_generate(lm, prompt, **settings):
    ids = torch.tensor([encode(lm, prompt)])
    return lm.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), return_dict_in_generate=True,
                             output_scores=True, **settings)


def test_it_loads_as_an_encoder_decoder_and_says_so(manager, seq2seq, seq2seq_dir, lm):
    assert seq2seq.encoder_decoder and not lm.encoder_decoder
    assert type(seq2seq.model).__name__ == "T5ForConditionalGeneration"
    assert "encoder-decoder, prompts up to 512 tokens" in seq2seq.describe()
    assert manager.is_encoder_decoder(str(seq2seq_dir)) and not manager.is_encoder_decoder("tiny")


def test_greedy_reply_is_what_transformers_generate_writes(seq2seq):
    out = generate(seq2seq, PROMPT, DecodingParams(max_new_tokens=12))
    expected = hf_generate(seq2seq, PROMPT, max_new_tokens=12, do_sample=False).sequences[0, 1:]  # after the start token
    assert out.token_ids == expected.tolist() and out.prompt_tokens == len(encode(seq2seq, PROMPT))
    assert out.text == seq2seq.tokenizer.decode(expected, skip_special_tokens=True)


@pytest.mark.parametrize("warp", [dict(temperature=0.7, top_k=20), dict(top_p=0.8), dict(top_k=5, repetition_penalty=1.3)])
def test_the_first_reply_token_is_drawn_from_what_the_chart_shows(seq2seq, warp):
    params = DecodingParams(do_sample=True, **warp)
    dist = next_token_distribution(seq2seq, PROMPT, params, top=seq2seq.model.config.vocab_size)
    scores = hf_generate(seq2seq, PROMPT, do_sample=True, max_new_tokens=1, temperature=params.temperature,
                         top_k=params.top_k, top_p=params.top_p, repetition_penalty=params.repetition_penalty).scores[0]
    expected = torch.softmax(scores[0].float(), dim=-1)
    ours = torch.zeros_like(expected)
    for token in dist.tokens:
        ours[token.id] = token.p_final
    assert torch.allclose(ours, expected, atol=1e-6)
    assert dist.kept == int((expected > 0).sum()) < dist.vocab_size


def test_a_seeded_sample_is_the_same_streamed_batched_and_alone(seq2seq):
    params = DecodingParams(max_new_tokens=10, do_sample=True, temperature=1.5, repetition_penalty=1.2, seed=3)
    alone = [generate(seq2seq, p, params) for p in PROMPTS]
    streamed = list(stream(seq2seq, PROMPT, params))
    assert streamed[-1].result.token_ids == alone[0].token_ids
    assert streamed[-1].result.logprobs == pytest.approx(alone[0].logprobs, abs=1e-5)
    batched = generate_many(seq2seq, PROMPTS, params, batch_size=3)  # prompts of three lengths, padded together
    assert [b.token_ids for b in batched] == [a.token_ids for a in alone]
    assert sample_n(seq2seq, PROMPT, params, 3)[0].token_ids == alone[0].token_ids
    assert len({tuple(s.token_ids) for s in sample_n(seq2seq, PROMPT, params, 3)}) > 1  # seeds differ per row


def test_the_prompt_has_the_encoders_whole_window(seq2seq, lm):
    summaries = load_builtin("summarization")
    setup = icl.Setup(template=BUILTIN_TASKS["summarization"].template, k=3)
    prompts = icl.build_variant_prompts(summaries, setup, 0, seq2seq.tokenizer, seq2seq.context_window, 200, True)
    assert prompts[2].fitted.budget == 512  # a decoder-only model would keep 200 of its 512 for the reply
    long_prompt = " ".join(["word"] * 200)
    n = len(encode(lm, long_prompt))
    assert 512 - 200 < n <= 512
    assert generate(seq2seq, long_prompt, DecodingParams(max_new_tokens=200)).prompt_tokens == n
    with pytest.raises(PlaygroundError, match="more than the model's context window of 512"):
        generate(lm, long_prompt, DecodingParams(max_new_tokens=200))
    with pytest.raises(PlaygroundError, match="more than the 512 this model's encoder reads"):
        generate(seq2seq, long_prompt * 2, DecodingParams(max_new_tokens=8))
    over = icl.build_variant_prompts(summaries, icl.Setup(template=setup.template, k=12), 0, seq2seq.tokenizer,
                                     seq2seq.context_window, 200, True)
    assert "Too long for the model's encoder" in icl.overflow_message(over, encoder_decoder=True)


def test_a_references_likelihood_is_the_decoders_loss_on_it(seq2seq):
    references = ["A dialogue about foxes.", "Hello there friend", "February"]
    batched = reference_nll(seq2seq, PROMPTS, references, batch_size=2)
    for prompt, reference, (nll, n) in zip(PROMPTS, references, batched):
        inputs = seq2seq.tokenizer(prompt, return_tensors="pt").input_ids
        labels = seq2seq.tokenizer(reference, add_special_tokens=False, return_tensors="pt").input_ids
        with torch.no_grad():
            loss = seq2seq.model(input_ids=inputs, labels=labels).loss  # transformers' mean over the reply's tokens
        assert n == labels.shape[1] and nll == pytest.approx(float(loss) * n, rel=1e-4)


@pytest.mark.parametrize("kind, recipe", [
    ("reward", {"data": "labels"}),
    ("dpo", {"data": "labels"}),
    ("kto", {"data": "labels"}),
    ("ppo", {"reward_model": "a-reward-model"}),
    ("grpo", {"reward_model": "a-reward-model"}),
    ("rloo", {"reward_model": "a-reward-model"}),
])
def test_rlhf_refuses_it_before_anything_starts(settings, seq2seq_dir, kind, recipe):
    jobs = JobManager(settings)
    before = len(jobs.store.runs())
    with pytest.raises(PlaygroundError, match="is an encoder-decoder model .*decoder-only models so far.*Fine-tune"):
        jobs.submit(kind, kinds.get(kind).recipe_class.from_dict({**recipe, "base_model": str(seq2seq_dir)}))
    assert len(jobs.store.runs()) == before


@pytest.mark.parametrize("values, message", [
    ({"method": "lora", "packing": True}, "turn packing off"),
    ({"method": "lora", "fused_loss": "chunked"}, "fused_loss chunked is for decoder-only models"),
    ({"method": "full", "completion_only_loss": True}, "completion_only_loss are TRL SFTTrainer settings"),
    ({"method": "lora", "lr_scheduler_type": "sometimes"}, "Seq2SeqTrainingArguments refuses these settings"),
])
def test_fine_tuning_it_refuses_what_it_cant_do_and_starts_nothing(settings, seq2seq_dir, values, message):
    jobs = JobManager(settings)
    before = len(jobs.store.runs())
    recipe = recipe_from_dict({"data": "summarization", **values, "base_model": str(seq2seq_dir)})
    with pytest.raises(PlaygroundError, match=message):
        jobs.submit("sft", recipe)
    assert len(jobs.store.runs()) == before


def test_the_cost_check_compares_every_method(manager, seq2seq_dir):
    from pages.finetune import METHOD_TITLES, cost_report
    from playground.training.estimate import count_trainable

    recipe = recipe_from_dict({"method": "lora", "data": "summarization", "base_model": str(seq2seq_dir)})
    report, figure = cost_report(manager, recipe)
    assert {tuple(trace.x) for trace in figure.data} == {tuple(METHOD_TITLES.values())}
    trainable, total, _ = count_trainable(recipe, str(seq2seq_dir))
    assert f"**{trainable:,}** trainable parameters of **{total:,}**" in report
    # what PEFT itself counts for LoRA r16 on every linear layer of T5's blocks (its head left out, as all-linear does)
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSeq2SeqLM

    targets = ["q", "k", "v", "o", "wi_0", "wi_1", "wo"]
    peft_model = get_peft_model(AutoModelForSeq2SeqLM.from_pretrained(seq2seq_dir), LoraConfig(
        task_type="SEQ_2_SEQ_LM", r=16, lora_alpha=32, target_modules=targets))
    assert (trainable, total) == peft_model.get_nb_trainable_parameters()


def test_a_long_prompt_keeps_its_start_and_its_closing_token(seq2seq):
    from playground.generation import keep_start

    eos = seq2seq.tokenizer.eos_token_id
    assert keep_start([5, 6, 7, 8, eos], 3, seq2seq.tokenizer) == [5, 6, eos]  # as truncation=True cuts T5's input
    assert keep_start([5, 6, 7, 8], 3, seq2seq.tokenizer) == [5, 6, 7] and keep_start([5, 6], 3, seq2seq.tokenizer) == [5, 6]


@pytest.fixture(scope="module")
def bart(manager, tmp_path_factory):
    """A tiny BART: an encoder-decoder with learned absolute positions (padding on the left would move them)."""
    from transformers import BartConfig, BartForConditionalGeneration

    from playground.tiny_model import build_tokenizer

    folder = tmp_path_factory.mktemp("tiny-bart")
    tokenizer = build_tokenizer()
    torch.manual_seed(0)
    BartForConditionalGeneration(BartConfig(
        vocab_size=len(tokenizer), d_model=64, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=128, decoder_ffn_dim=128, max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id, forced_eos_token_id=None)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return manager.get(str(folder))


def test_a_bart_prompt_batched_with_longer_ones_gets_the_reply_it_gets_alone(bart):
    params = DecodingParams(max_new_tokens=8)
    alone = [generate(bart, p, params) for p in PROMPTS]
    batched = generate_many(bart, PROMPTS, params, batch_size=3)
    assert [g.token_ids for g in batched] == [g.token_ids for g in alone]
    for one, together in zip(alone, batched):  # the same probabilities, not only the same greedy picks
        assert together.logprobs == pytest.approx(one.logprobs, abs=1e-4)
    expected = hf_generate(bart, PROMPTS[1], max_new_tokens=8, do_sample=False).sequences[0, 1:].tolist()
    assert alone[1].token_ids == expected[:len(alone[1].token_ids)]


def test_selective_fine_tuning_trains_the_last_blocks_of_the_encoder_and_of_the_decoder(seq2seq_dir):
    from transformers import AutoModelForSeq2SeqLM

    from playground.training.estimate import count_trainable

    recipe = recipe_from_dict({"method": "selective", "data": "summarization", "base_model": str(seq2seq_dir),
                               "last_n_blocks": 1})
    trainable, total, _ = count_trainable(recipe, str(seq2seq_dir))
    model = AutoModelForSeq2SeqLM.from_pretrained(seq2seq_dir)
    last_blocks = [model.encoder.block[-1], model.decoder.block[-1]]
    assert trainable == sum(p.numel() for block in last_blocks for p in block.parameters()) > 0
    assert total == sum(p.numel() for p in model.parameters())


def test_ia3_scales_t5s_keys_values_and_feed_forward(seq2seq_dir):
    """(IA)³'s own paper tuned T0 (a T5): vectors on the keys, the values and the feed-forward's output."""
    from peft import get_peft_model
    from transformers import AutoModelForSeq2SeqLM

    config = recipe_from_dict({"method": "ia3", "data": "summarization"}).peft_config(str(seq2seq_dir))
    model = get_peft_model(AutoModelForSeq2SeqLM.from_pretrained(seq2seq_dir), config)
    scaled = {name.split(".")[-3] for name, _ in model.named_parameters() if "ia3_l" in name}
    assert config.task_type == "SEQ_2_SEQ_LM" and scaled == {"k", "v", "wo"}


@pytest.fixture(scope="module")
def soft_prompted(settings, seq2seq_dir, tmp_path_factory):
    """A prompt-tuning adapter on the tiny T5 whose soft prompt changes the replies (random, scaled
    up), loaded as the labs load it (its own manager: the shared model stays bare), and its prompt."""
    from peft import get_peft_model
    from transformers import AutoModelForSeq2SeqLM

    from playground.models import ModelManager

    recipe = recipe_from_dict({"method": "prompt_tuning", "data": "summarization", "prompt_tuning_init": "RANDOM",
                               "num_virtual_tokens": 4})
    peft_model = get_peft_model(AutoModelForSeq2SeqLM.from_pretrained(seq2seq_dir), recipe.peft_config(str(seq2seq_dir)))
    torch.manual_seed(0)
    with torch.no_grad():
        peft_model.prompt_encoder["default"].embedding.weight.normal_(0, 20.0)
    folder = tmp_path_factory.mktemp("t5-soft") / "t5-soft"
    peft_model.save_pretrained(folder)
    lm = ModelManager(settings).get(str(seq2seq_dir), adapters=(str(folder),))
    return lm, folder.name, peft_model.get_prompt(batch_size=1).detach()


def with_soft_prompt(model, ids, prompt):
    """The encoder's input as prompt tuning defines it: the learned vectors, then the prompt's embeddings."""
    embeds = torch.cat([prompt, model.get_input_embeddings()(torch.tensor([ids]))], dim=1)
    return {"inputs_embeds": embeds, "attention_mask": torch.ones(embeds.shape[:2], dtype=torch.long)}


def test_a_soft_prompt_goes_before_the_encoders_input_in_every_path(soft_prompted, seq2seq_dir):
    """Lester et al.'s prompt tuning on T5: learned vectors before the encoder's input. The reply,
    the chart and a reference's likelihood all see them, and nothing else changes."""
    from transformers import AutoModelForSeq2SeqLM

    lm, adapter, prompt = soft_prompted
    assert prompt.shape[1] == 4  # the encoder's prompt only (PEFT's default would train a second, unused one)
    base = AutoModelForSeq2SeqLM.from_pretrained(seq2seq_dir).eval()
    ids = encode(lm, PROMPT)
    with torch.no_grad():
        expected = base.generate(**with_soft_prompt(base, ids, prompt), max_new_tokens=8, do_sample=False)[0].tolist()
    greedy = generate(lm, PROMPT, DecodingParams(max_new_tokens=8, do_sample=False), adapter=adapter)
    assert greedy.token_ids == [t for t in expected if t != lm.tokenizer.pad_token_id][:len(greedy.token_ids)]
    assert greedy.token_ids != generate(lm, PROMPT, DecodingParams(max_new_tokens=8, do_sample=False)).token_ids
    chart = next_token_distribution(lm, PROMPT, DecodingParams(do_sample=False), adapter=adapter)
    assert chart.tokens[0].id == greedy.token_ids[0]
    reference = "A dialogue about foxes."
    labels = lm.tokenizer(reference, add_special_tokens=False, return_tensors="pt").input_ids
    with torch.no_grad():
        loss = base(**with_soft_prompt(base, ids, prompt), labels=labels).loss
    (nll, n), = reference_nll(lm, [PROMPT], [reference], adapter=adapter)
    assert n == labels.shape[1] and nll == pytest.approx(float(loss) * n, rel=1e-4)


@pytest.fixture(scope="module")
def pegasus_dir(tmp_path_factory, seq2seq_dir):
    """A tiny Pegasus (with the tiny T5's tokenizer): an encoder-decoder whose blocks no
    `_no_split_modules` names and for which PEFT knows no (IA)³ layers."""
    from transformers import AutoTokenizer, PegasusConfig, PegasusForConditionalGeneration

    folder = tmp_path_factory.mktemp("pegasus")
    tokenizer = AutoTokenizer.from_pretrained(seq2seq_dir)
    tokenizer.save_pretrained(folder)
    PegasusForConditionalGeneration(PegasusConfig(
        vocab_size=len(tokenizer), d_model=16, encoder_layers=2, decoder_layers=3, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=64)).save_pretrained(folder)
    return folder


def test_selective_finds_both_stacks_where_no_split_modules_is_not_set(pegasus_dir):
    from transformers import AutoModelForSeq2SeqLM

    from playground.training.blocks import block_stacks

    model = AutoModelForSeq2SeqLM.from_pretrained(pegasus_dir)
    stacks = block_stacks(model)
    assert [len(s) for s in stacks] == [2, 3] and stacks[0] is model.model.encoder.layers


def test_a_method_the_architecture_cant_take_is_left_out_of_the_cost_check_and_refused(manager, pegasus_dir):
    from pages.finetune import cost_report

    recipe = recipe_from_dict({"method": "lora", "data": "summarization", "base_model": str(pegasus_dir)})
    report, figure = cost_report(manager, recipe)
    assert "Not for this model: (IA)³: (IA)³ knows no layers to scale in a 'pegasus' model" in report
    assert "(IA)³" not in figure.data[0].x and "LoRA" in figure.data[0].x
    with pytest.raises(PlaygroundError, match="knows no layers to scale"):
        cost_report(manager, recipe.with_method("ia3"))


def test_a_launch_says_what_the_method_does_here_that_the_form_doesnt_show(settings, seq2seq_dir):
    """Selective with more blocks than the model has trains every block; QLoRA on a CPU is for trying."""
    from playground.training.sft_kind import method_notes

    selective = recipe_from_dict({"method": "selective", "data": "summarization", "last_n_blocks": 10})
    assert method_notes(selective, str(seq2seq_dir)) == [
        "Last N blocks is 10 and the model has 2 and 2 blocks (encoder and decoder): every block trains (all but the "
        "embeddings), close to full fine-tuning."]
    assert method_notes(selective.__class__.from_dict({**selective.to_dict(), "last_n_blocks": 1}), str(seq2seq_dir)) == []
    qlora = method_notes(recipe_from_dict({"method": "qlora", "data": "summarization"}), str(seq2seq_dir))
    assert len(qlora) == 1 and qlora[0].startswith("QLoRA without a GPU")


def test_the_rlhf_tab_says_before_any_click_that_it_cant_train_it(manager, seq2seq_dir):
    from pages.rlhf import trained_model_note

    assert trained_model_note(manager, str(seq2seq_dir)).startswith(
        f"⚠️ The model chosen at the top of the page, **{seq2seq_dir}**, is an encoder-decoder model (T5-style)")
    assert trained_model_note(manager, "tiny") == "The model trained is the one chosen at the top of the page."
    assert trained_model_note(manager, "nobody/missing-model") == trained_model_note(manager, "tiny")  # offline: a launch says why


def test_the_qlora_estimate_counts_what_a_4_bit_load_leaves_unquantized(seq2seq_dir):
    """T5 keeps its feed-forward output layers (`wo`) out of 4 bits: the estimate counts at full width
    the same parameters a real 4-bit load leaves in ordinary Linear layers."""
    import torch
    from transformers import AutoModelForSeq2SeqLM

    from playground.models import source_config
    from playground.training.estimate import count_trainable, estimate_memory, never_quantized

    recipe = recipe_from_dict({"method": "qlora", "data": "summarization", "base_model": str(seq2seq_dir)})
    model = AutoModelForSeq2SeqLM.from_pretrained(seq2seq_dir, quantization_config=recipe.quantization_config(torch.float32))
    plain = sum(m.weight.numel() for name, m in model.named_modules()
                if type(m) is torch.nn.Linear and name != "lm_head")
    config = source_config(str(seq2seq_dir))
    assert never_quantized(config) == plain > 0
    trainable, total, _ = count_trainable(recipe, str(seq2seq_dir))
    with_wo = estimate_memory(recipe, config, trainable, total).weights
    lora = estimate_memory(recipe.with_method("lora"), config, trainable, total).weights
    assert with_wo < lora  # still mostly 4-bit
