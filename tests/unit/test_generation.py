import math
import threading

import pytest
import torch

from playground import generation
from playground.errors import PlaygroundError
from playground.generation import DecodingParams, PromptTokens, encode, generate, generate_many, next_token_distribution

PROMPT = "Summarize the following conversation."
SAMPLING = [
    dict(temperature=0.7),
    dict(temperature=1.3, top_k=20),
    dict(top_p=0.8),
    dict(temperature=0.5, top_k=50, top_p=0.9),
    dict(temperature=1.0, top_k=5, repetition_penalty=1.3),
]


@pytest.mark.parametrize("warp", SAMPLING)
def test_distribution_after_warpers_equals_what_generate_samples_from(lm, warp):
    params = DecodingParams(do_sample=True, **warp)
    dist = next_token_distribution(lm, PROMPT, params, top=lm.model.config.vocab_size)
    ids = torch.tensor([encode(lm, PROMPT)])
    out = lm.model.generate(
        input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=True, max_new_tokens=1,
        return_dict_in_generate=True, output_scores=True, pad_token_id=lm.tokenizer.pad_token_id,
        temperature=params.temperature, top_k=params.top_k, top_p=params.top_p,
        repetition_penalty=params.repetition_penalty,
    )
    expected = torch.softmax(out.scores[0][0].float(), dim=-1)
    ours = torch.zeros_like(expected)
    for t in dist.tokens:
        ours[t.id] = t.p_final
    assert torch.allclose(ours, expected, atol=1e-6)
    assert dist.kept == int((expected > 0).sum())


def test_cut_tokens_have_zero_final_probability_and_the_rest_renormalise(lm):
    dist = next_token_distribution(lm, PROMPT, DecodingParams(do_sample=True, top_k=3), top=20)
    kept = [t for t in dist.tokens if t.p_final > 0]
    assert dist.kept == 3 and len(kept) == 3
    assert [t.id for t in kept] == [t.id for t in dist.tokens[:3]]  # the 3 most likely by raw probability
    assert math.isclose(sum(t.p_final for t in kept), 1.0, rel_tol=1e-5)
    assert [t.p_raw for t in dist.tokens] == sorted((t.p_raw for t in dist.tokens), reverse=True)


def test_greedy_distribution_keeps_only_the_argmax(lm):
    dist = next_token_distribution(lm, PROMPT, DecodingParams(do_sample=False))
    assert dist.kept == 1 and dist.tokens[0].p_final == 1.0


def test_slider_changes_reuse_the_cached_logits(lm):
    prompt = "A prompt the cache has not seen yet"
    before = lm.forward_passes
    for temperature in (0.3, 0.9, 1.7):
        for top_p in (0.5, 1.0):
            next_token_distribution(lm, prompt, DecodingParams(do_sample=True, temperature=temperature, top_p=top_p))
    assert lm.forward_passes == before + 1  # one forward pass for the new prompt, none for the slider moves


def test_seeded_sampling_is_reproducible_and_seeds_differ(lm):
    params = DecodingParams(max_new_tokens=24, do_sample=True, temperature=1.2, seed=7)
    a = generation.generate(lm, PROMPT, params)
    b = generation.generate(lm, PROMPT, params)
    c = generation.generate(lm, PROMPT, DecodingParams(max_new_tokens=24, do_sample=True, temperature=1.2, seed=8))
    assert a.token_ids == b.token_ids and a.text == b.text
    assert a.token_ids != c.token_ids


def test_seeds_hold_while_other_requests_sample_concurrently(lm):
    params = DecodingParams(max_new_tokens=16, do_sample=True, seed=3)
    alone = generation.generate(lm, PROMPT, params).token_ids
    results = []

    def worker(seed):
        results.append((seed, generation.generate(lm, PROMPT, DecodingParams(max_new_tokens=16, do_sample=True, seed=seed)).token_ids))

    threads = [threading.Thread(target=worker, args=(s,)) for s in (3, 4, 3, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(ids == alone for seed, ids in results if seed == 3)


def test_logprobs_match_the_model_and_the_first_token(lm):
    params = DecodingParams(max_new_tokens=10, do_sample=True, temperature=0.8, top_k=40, seed=1)
    out = generation.generate(lm, PROMPT, params)
    assert len(out.token_ids) == len(out.logprobs) == len(out.final_logprobs) > 0
    dist = next_token_distribution(lm, PROMPT, params, top=lm.model.config.vocab_size)
    first = next(t for t in dist.tokens if t.id == out.token_ids[0])
    assert math.isclose(math.exp(out.logprobs[0]), first.p_raw, rel_tol=1e-4)
    assert math.isclose(math.exp(out.final_logprobs[0]), first.p_final, rel_tol=1e-4)
    assert out.tokens_per_s > 0 and out.prompt_tokens == len(encode(lm, PROMPT))


def test_stream_gives_the_same_result_as_generate(lm):
    params = DecodingParams(max_new_tokens=20, do_sample=True, seed=11)
    updates = list(generation.stream(lm, PROMPT, params, chat=True))
    final = updates[-1].result
    assert final is not None and final.token_ids == generation.generate(lm, PROMPT, params, chat=True).token_ids
    texts = [u.text for u in updates[:-1]]
    assert texts == sorted(texts, key=len) and all(final.text.startswith(t) for t in texts)


def test_a_stop_ends_the_stream_within_a_token(lm):
    params = DecodingParams(max_new_tokens=400, do_sample=True, seed=0)
    stop = threading.Event()
    updates = []
    for update in generation.stream(lm, PROMPT, params, stop_event=stop):
        updates.append(update)
        if len(updates) == 3:
            stop.set()
    final = updates[-1].result
    assert final.finish_reason == "stopped" and len(final.token_ids) <= 5
    assert len(final.logprobs) == len(final.token_ids)


def test_sample_n_row_zero_matches_generate_and_rows_differ(lm):
    params = DecodingParams(max_new_tokens=12, do_sample=True, temperature=1.5, seed=21)
    rows = generation.sample_n(lm, PROMPT, params, 4)
    assert len(rows) == 4
    assert rows[0].token_ids == generation.generate(lm, PROMPT, params).token_ids
    assert len({tuple(r.token_ids) for r in rows}) > 1


def test_greedy_is_deterministic_whatever_the_seed(lm):
    a = generation.generate(lm, PROMPT, DecodingParams(max_new_tokens=12, seed=1))
    b = generation.generate(lm, PROMPT, DecodingParams(max_new_tokens=12, seed=99))
    assert a.token_ids == b.token_ids
    assert all(math.isclose(f, 0.0, abs_tol=1e-6) for f in a.final_logprobs)  # greedy picks with probability 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(top_p=0.0), "Top-p"),
        (dict(top_p=1.5), "Top-p"),
        (dict(top_k=-1), "Top-k"),
        (dict(do_sample=True, temperature=0.0), "Temperature"),
        (dict(do_sample=True, temperature=-1.0), "Temperature"),
        (dict(max_new_tokens=0), "Max new tokens"),
        (dict(repetition_penalty=0.0), "Repetition penalty"),
        (dict(seed=-3), "Seed"),
    ],
)
def test_bad_decoding_settings_are_explained(kwargs, message):
    with pytest.raises(PlaygroundError, match=message):
        DecodingParams(**kwargs)


def test_empty_prompt_and_overflow_are_explained(lm):
    with pytest.raises(PlaygroundError, match="empty"):
        generation.generate(lm, "   ", DecodingParams())
    with pytest.raises(PlaygroundError, match="context window of 512"):
        generation.generate(lm, PROMPT, DecodingParams(max_new_tokens=600))


def test_prompt_tokens_keep_last_fits_the_budget(lm):
    counter = PromptTokens(lm.tokenizer, chat=True)
    text = " ".join(["word"] * 300)
    trimmed = counter.keep_last(text, 50)
    assert counter.count(trimmed) <= 50 and text.endswith(trimmed.strip())


def test_stream_resumed_on_other_threads_matches_generate(lm):
    """A web server may call next() on a stream from different worker threads."""
    from concurrent.futures import ThreadPoolExecutor

    params = DecodingParams(max_new_tokens=12, do_sample=True, seed=4)
    iterator = generation.stream(lm, PROMPT, params)
    updates = []
    with ThreadPoolExecutor(max_workers=3) as pool:
        while (update := pool.submit(next, iterator, None).result()) is not None:
            updates.append(update)
    assert updates[-1].result.token_ids == generation.generate(lm, PROMPT, params).token_ids
    assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()


@pytest.fixture(scope="module")
def opinionated(tiny_dir, settings, tmp_path_factory):
    """The tiny model with a generation_config.json that sets every warper, as Qwen2.5-Instruct's does."""
    import shutil

    from transformers import GenerationConfig

    from playground.models import ModelManager

    folder = tmp_path_factory.mktemp("opinionated") / "model"
    shutil.copytree(tiny_dir, folder)
    config = GenerationConfig.from_pretrained(folder)
    config.update(do_sample=True, temperature=0.7, top_k=20, top_p=0.8, repetition_penalty=1.3)
    config.save_pretrained(folder)
    return ModelManager(settings).get(str(folder))


def test_the_models_own_settings_drive_the_chart_the_stream_generate_and_sample_n(opinionated):
    from playground.generation import defaults_of, generate, sample_n, stream

    lm = opinionated
    params = defaults_of(lm).with_settings(max_new_tokens=12, seed=3)
    assert (params.do_sample, params.temperature, params.top_k, params.top_p, params.repetition_penalty) == (True, 0.7, 20, 0.8, 1.3)
    streamed = list(stream(lm, PROMPT, params))[-1].result.token_ids
    assert streamed == generate(lm, PROMPT, params).token_ids == sample_n(lm, PROMPT, params, 2)[0].token_ids
    greedy = params.with_settings(do_sample=False)  # the repro: a repetition penalty set only by the model
    assert list(stream(lm, PROMPT, greedy))[-1].result.token_ids == generate(lm, PROMPT, greedy).token_ids
    plain = greedy.with_settings(repetition_penalty=1.0)  # the user's setting wins over the model's, on every path
    assert list(stream(lm, PROMPT, plain))[-1].result.token_ids == generate(lm, PROMPT, plain).token_ids

    # The chart is what transformers' own generate() samples from with the model's settings.
    dist = next_token_distribution(lm, PROMPT, params, top=lm.model.config.vocab_size)
    ids = torch.tensor([encode(lm, PROMPT)])
    out = lm.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=1, output_scores=True,
                            return_dict_in_generate=True, pad_token_id=lm.tokenizer.pad_token_id)
    expected = torch.softmax(out.scores[0][0].float(), dim=-1)
    ours = torch.zeros_like(expected)
    for t in dist.tokens:
        ours[t.id] = t.p_final
    assert torch.allclose(ours, expected, atol=1e-6) and dist.kept == int((expected > 0).sum()) <= 20


def test_a_seed_beyond_the_generators_range_is_explained():
    with pytest.raises(PlaygroundError, match="from 0 to 9,223,372,036,854,775,807"):
        DecodingParams(seed=10**30)


@pytest.mark.parametrize("backend", [True, False])
def test_incremental_text_never_splits_a_character(lm, backend):
    """tokenizers' DecodeStream (fast tokenizers), or prefix offsets for the others: the pieces
    join to the whole text, and none ends half-way through a multi-byte character."""

    class NoBackend:  # a tokenizer without a Rust backend
        def __init__(self, tokenizer):
            self.decode = tokenizer.decode

    text = "héllo wörld — ok 🎉 naïve"
    ids = lm.tokenizer(text, add_special_tokens=False)["input_ids"]
    step = generation._text_stream(lm.tokenizer if backend else NoBackend(lm.tokenizer))
    pieces = [step(i) for i in ids]
    assert "".join(pieces) == lm.tokenizer.decode(ids) == text
    assert not any("\ufffd" in piece for piece in pieces)
    assert len(ids) > len(text.encode("utf-8")) / 4  # byte-level tokens really do split characters here


BATCH_PROMPTS = ["Hello", "The weather today is quite", "One two three four five six seven eight", "A",
                 "Summarize: the meeting moved to Tuesday because the room was booked", "x y z", "Dear team,"]


@pytest.mark.parametrize("decoding", [dict(do_sample=False), dict(do_sample=False, repetition_penalty=1.3),
                                      dict(do_sample=True, temperature=0.9, top_k=20, seed=7)])
def test_batched_generation_matches_one_prompt_at_a_time(lm, decoding):
    """Left padding must not change a single token: each row is what generate() gives alone."""
    params = DecodingParams(max_new_tokens=12, **decoding)
    alone = [generate(lm, p, params) for p in BATCH_PROMPTS]
    seen = []
    batched = generate_many(lm, BATCH_PROMPTS, params, batch_size=3, on_progress=lambda done, total: seen.append(done))
    assert [g.token_ids for g in batched] == [g.token_ids for g in alone]
    assert [g.text for g in batched] == [g.text for g in alone]
    assert seen[-1] == len(BATCH_PROMPTS) and seen == sorted(seen)


def test_batched_generation_stops_between_batches(lm):
    stop = threading.Event()
    results = generate_many(lm, BATCH_PROMPTS, DecodingParams(max_new_tokens=4), batch_size=2,
                            on_progress=lambda done, total: stop.set(), stop_event=stop)
    assert sum(r is not None for r in results) == 2
