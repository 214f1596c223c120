"""Decoding: generate or stream a completion, and the next-token distribution before and after
the sampling warpers.

Sampling happens in our own logits processor with a per-request `torch.Generator`, so a seed
reproduces a completion even while other requests sample at the same time (the global torch RNG
would be shared). Its warpers are the very classes `generate(do_sample=True)` uses, in the same
order, so the distribution drawn in the Decoding Lab is the one the sampler draws from.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace

from playground import limits
from playground.errors import PlaygroundError
from playground.models import LoadedModel

LOGITS_CACHE_SIZE = 16
MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed's range


@dataclass(frozen=True)
class DecodingParams:
    """How to pick each next token. top_k=0 and top_p=1.0 switch those filters off."""

    max_new_tokens: int = 64
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if int(self.max_new_tokens) != self.max_new_tokens or self.max_new_tokens < 1:
            raise PlaygroundError(f"Max new tokens must be a whole number of at least 1 (got {self.max_new_tokens}).")
        limits.current().check(self.max_new_tokens, "new_tokens", "Max new tokens")
        if self.do_sample and not self.temperature > 0:
            raise PlaygroundError(
                f"Temperature must be above 0 when sampling (got {self.temperature}). "
                "For deterministic output choose greedy decoding instead."
            )
        if int(self.top_k) != self.top_k or self.top_k < 0:
            raise PlaygroundError(f"Top-k must be a whole number ≥ 0 (got {self.top_k}); 0 switches it off.")
        if not 0 < self.top_p <= 1:
            raise PlaygroundError(f"Top-p must be in (0, 1] (got {self.top_p}); 1 switches it off.")
        if not self.repetition_penalty > 0:
            raise PlaygroundError(
                f"Repetition penalty must be above 0 (got {self.repetition_penalty}); 1 switches it off."
            )
        if int(self.seed) != self.seed or not 0 <= self.seed <= MAX_SEED:
            raise PlaygroundError(f"Seed must be a whole number from 0 to {MAX_SEED:,} (got {self.seed:g}).")

    def with_settings(self, **settings) -> DecodingParams:
        """These settings (the model's defaults, say) overridden by the ones given; None keeps the default."""
        return replace(self, **{k: v for k, v in settings.items() if v is not None})

    def describe(self) -> str:
        mode = "sampling" if self.do_sample else "greedy"
        return (f"{mode}, temperature {self.temperature:g}, top-k {self.top_k}, top-p {self.top_p:g}, "
                f"repetition penalty {self.repetition_penalty:g}")


# transformers' values when a model's generation_config.json leaves a setting out
GLOBAL_DEFAULTS = {"do_sample": False, "temperature": 1.0, "top_k": 50, "top_p": 1.0, "repetition_penalty": 1.0}


def model_defaults(generation_config) -> DecodingParams:
    """The decoding settings a model ships in its generation_config.json (e.g. Qwen2.5-Instruct:
    sampling, temperature 0.7, top-k 20, top-p 0.8, repetition penalty 1.05), with transformers'
    own defaults for what it leaves out. The UI opens its sliders at these; every path (chart,
    sampler, stream, generate) uses them merged with the user's settings, never on its own."""
    values = {}
    for name, default in GLOBAL_DEFAULTS.items():
        value = getattr(generation_config, name, None) if generation_config is not None else None
        values[name] = default if value is None else type(default)(value)
    return DecodingParams(**values)


@dataclass
class Generation:
    """A finished completion. logprobs are the model's own (raw) log-probabilities of each
    generated token; final_logprobs are under the distribution the sampler drew from."""

    text: str
    token_ids: list[int]
    logprobs: list[float]
    final_logprobs: list[float]
    prompt_tokens: int
    seconds: float
    tokens_per_s: float
    finish_reason: str  # "eos", "length" or "stopped"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class StreamUpdate:
    text: str
    n_tokens: int
    tokens_per_s: float
    result: Generation | None = None  # set on the last update


@dataclass
class TokenProb:
    id: int
    token: str
    p_raw: float
    p_final: float


@dataclass
class NextTokenDistribution:
    tokens: list[TokenProb]  # the most likely tokens by raw probability, most likely first
    kept: int  # how many tokens of the vocabulary the sampler can still pick
    vocab_size: int
    prompt_tokens: int = 0


def defaults_of(lm: LoadedModel) -> DecodingParams:
    """The loaded model's own decoding settings (see model_defaults)."""
    return model_defaults(getattr(lm.model, "generation_config", None))


# ---- prompts to token ids ----
def check_prompt(prompt: str) -> None:
    """What a prompt needs before any model sees it: some text, within the length limit."""
    if not prompt or not prompt.strip():
        raise PlaygroundError("The prompt is empty. Type some text for the model to continue.")
    limits.current().check(len(prompt), "prompt_chars", "The prompt's length in characters")


def encode(lm_or_tokenizer, prompt: str, chat: bool = False) -> list[int]:
    """Token ids of the prompt; with chat=True wrapped as a user turn by the model's chat template."""
    tokenizer = getattr(lm_or_tokenizer, "tokenizer", lm_or_tokenizer)
    check_prompt(prompt)
    if chat:
        if not getattr(tokenizer, "chat_template", None):
            raise PlaygroundError("This model has no chat template. Untick 'chat template' to send the raw prompt.")
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        return tokenizer(prompt, add_special_tokens=False, verbose=False)["input_ids"]
    return tokenizer(prompt, verbose=False)["input_ids"]


def prompt_budget(context_window: int, max_new_tokens: int, encoder_decoder: bool = False) -> int:
    """How many prompt tokens fit. A decoder-only model's window holds the prompt and the reply
    together; an encoder-decoder model's encoder reads the prompt alone (the reply is the decoder's)."""
    return context_window if encoder_decoder else context_window - max_new_tokens


def keep_start(ids: list[int], n_tokens: int, tokenizer) -> list[int]:
    """The first n_tokens of an encoder's input, keeping its closing special token (T5's EOS) if it
    has one: how tokenizers truncate (truncation=True), so training and scoring cut alike."""
    if len(ids) <= n_tokens:
        return ids
    if ids[-1] in set(tokenizer.all_special_ids):
        return ids[:n_tokens - 1] + ids[-1:]
    return ids[:n_tokens]


def check_fits(n_prompt_tokens: int, max_new_tokens: int, context_window: int, encoder_decoder: bool = False) -> None:
    if encoder_decoder:
        if n_prompt_tokens > context_window:
            raise PlaygroundError(
                f"The prompt has {n_prompt_tokens:,} tokens: more than the {context_window:,} this model's encoder reads. "
                "Shorten the prompt.")
        if max_new_tokens > context_window:
            raise PlaygroundError(f"Max new tokens ({max_new_tokens:,}) is more than this model writes in one reply "
                                  f"({context_window:,}): lower it.")
        return
    if n_prompt_tokens + max_new_tokens > context_window:
        raise PlaygroundError(
            f"The prompt has {n_prompt_tokens:,} tokens and {max_new_tokens:,} more were asked for: "
            f"{n_prompt_tokens + max_new_tokens:,} is more than the model's context window of {context_window:,}. "
            "Shorten the prompt or lower max new tokens."
        )


# ---- the warpers, shared by the chart and the sampler ----
def build_warpers(params: DecodingParams):
    from transformers import (
        LogitsProcessorList,
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    # Same order as GenerationMixin._get_logits_processor: penalties, then temperature, top-k, top-p.
    warpers = LogitsProcessorList()
    if params.repetition_penalty != 1.0:
        warpers.append(RepetitionPenaltyLogitsProcessor(params.repetition_penalty))
    if params.do_sample:
        if params.temperature != 1.0:
            warpers.append(TemperatureLogitsWarper(params.temperature))
        if params.top_k:
            warpers.append(TopKLogitsWarper(top_k=int(params.top_k)))
        if params.top_p < 1.0:
            warpers.append(TopPLogitsWarper(top_p=params.top_p))
    return warpers


def final_probs(logits, input_ids, params: DecodingParams, warpers=None):
    """Probabilities the decoder picks from: softmax after the warpers, or one-hot when greedy."""
    import torch

    warpers = build_warpers(params) if warpers is None else warpers
    scores = warpers(input_ids, logits.clone())
    if params.do_sample:
        return torch.softmax(scores, dim=-1)
    return torch.nn.functional.one_hot(scores.argmax(dim=-1), scores.shape[-1]).to(scores.dtype)


def decoder_start(lm: LoadedModel) -> int:
    """The token an encoder-decoder model's reply starts from (T5: its pad token)."""
    start = lm.model.generation_config.decoder_start_token_id
    if start is None:
        start = getattr(lm.model.config, "decoder_start_token_id", None)
    return _pad_id(lm) if start is None else int(start)


def reply_so_far(lm: LoadedModel, ids: list[int]):
    """What the first next token follows, as generate() shows it to the logits processors (and so
    to a repetition penalty): the prompt, or for an encoder-decoder model the decoder's start token."""
    import torch

    return torch.tensor([[decoder_start(lm)]] if lm.encoder_decoder else [ids])


def last_position_logits(lm: LoadedModel, ids: list[int], adapter: str | None = None):
    """One forward pass: the logits at the prompt's last position (an encoder-decoder model's
    first reply position), [1, vocab] float32 on the CPU."""
    import torch

    with torch.inference_mode(), lm.using(adapter) as model:
        input_ids = torch.tensor([ids], device=lm.device)
        if lm.encoder_decoder:
            out = model(input_ids=input_ids, decoder_input_ids=reply_so_far(lm, ids).to(lm.device))
        else:
            out = model(input_ids=input_ids, logits_to_keep=1)
        return out.logits[:, -1].float().cpu()


def _last_logits(lm: LoadedModel, ids: list[int], adapter: str | None = None, forward=last_position_logits):
    """(last-position logits, their ascending order) for a prompt: one forward pass per new
    prompt, then from the cache."""
    key = (adapter, lm.adapters.get(adapter), tuple(ids))
    with lm.locked():
        cached = lm.logits_cache.get(key)
        if cached is not None:
            lm.logits_cache.move_to_end(key)
            return cached
    logits = forward(lm, ids, adapter)
    with lm.locked():
        lm.forward_passes += 1
        lm.logits_cache[key] = cached = (logits, logits.argsort(dim=-1))
        while len(lm.logits_cache) > LOGITS_CACHE_SIZE:
            lm.logits_cache.popitem(last=False)
    return cached


def _presorted_top_p(top_p: float, ascending_order):
    """transformers' TopPLogitsWarper with its sort replaced by a known order. Valid when the
    scores are in the raw logits' order, i.e. after temperature and top-k (both keep the order)
    but not after a repetition penalty. Sorting 49k logits costs ~5 ms; a gather ~0.1 ms."""
    from transformers import LogitsProcessor

    class PresortedTopP(LogitsProcessor):
        def __call__(self, input_ids, scores):
            sorted_logits = scores.gather(-1, ascending_order)
            cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
            remove = cumulative <= (1 - top_p)
            remove[..., -1:] = 0  # keep at least one token, as min_tokens_to_keep=1 does
            return scores.masked_fill(remove.scatter(1, ascending_order, remove), -float("inf"))

    return PresortedTopP()


def _token_text(lm: LoadedModel, token_id: int) -> str:
    text = lm.token_texts.get(token_id)  # a dict read or write is atomic: no lock needed
    if text is None:
        text = lm.token_texts[token_id] = lm.tokenizer.decode([token_id])
    return text


def next_token_distribution(
    lm: LoadedModel, prompt: str, params: DecodingParams, chat: bool = False, top: int = 20, adapter: str | None = None,
    forward=last_position_logits,
) -> NextTokenDistribution:
    """The most likely next tokens before and after the decoding settings. `forward` makes the
    prompt's logits (once per prompt: they are cached on the model): last_position_logits, or a
    function that runs it elsewhere."""
    import torch

    ids = encode(lm, prompt, chat)
    check_fits(len(ids), 1, lm.context_window, lm.encoder_decoder)
    logits, order = _last_logits(lm, ids, adapter, forward)
    input_ids = reply_so_far(lm, ids)
    p_raw = torch.softmax(logits, dim=-1)[0]
    warpers = build_warpers(params)
    if params.repetition_penalty == 1.0 and params.do_sample and params.top_p < 1.0:
        warpers[-1] = _presorted_top_p(params.top_p, order)
    p_final = final_probs(logits, input_ids, params, warpers)[0]
    top_p_raw, top_ids = p_raw.topk(min(top, p_raw.shape[0]))
    tokens = [
        TokenProb(id=i, token=_token_text(lm, i), p_raw=float(p), p_final=float(p_final[i]))
        for i, p in zip(top_ids.tolist(), top_p_raw.tolist())
    ]
    return NextTokenDistribution(
        tokens=tokens, kept=int((p_final > 0).sum()), vocab_size=int(p_raw.shape[0]), prompt_tokens=len(ids)
    )


# ---- generation ----
def _sampler_class():
    import torch
    from transformers import LogitsProcessor

    class SeededSampler(LogitsProcessor):
        """Picks each next token itself (a seeded generator per row) and hands generate() a
        one-hot score, so generate's own greedy step keeps exactly our choice."""

        def __init__(self, params: DecodingParams, device: str, seeds: list[int], pad_widths: list[int] | None = None):
            self.params = params
            self.warpers = build_warpers(params)
            self.generators = [torch.Generator(device).manual_seed(seed) for seed in seeds]
            self.logprobs: list[list[float]] = [[] for _ in seeds]
            self.final_logprobs: list[list[float]] = [[] for _ in seeds]
            self.pad_widths = pad_widths if pad_widths and any(pad_widths) else None

        def _unpadded(self, input_ids):
            """Left padding repeated the row's first real token, so a repetition penalty (which counts
            each distinct token once) sees exactly the tokens the row would have alone."""
            input_ids = input_ids.clone()
            for row, width in enumerate(self.pad_widths):
                if width:
                    input_ids[row, :width] = input_ids[row, width]
            return input_ids

        def pick(self, input_ids, scores):
            """The next token of each row; records its raw and final log-probability."""
            scores = scores.float()
            if self.pad_widths and self.params.repetition_penalty != 1.0:
                input_ids = self._unpadded(input_ids)
            rows = torch.arange(scores.shape[0], device=scores.device)
            if self.params.do_sample:
                probs = final_probs(scores, input_ids, self.params, self.warpers)
                chosen = torch.cat([torch.multinomial(probs[r], 1, generator=g) for r, g in enumerate(self.generators)])
                final = probs[rows, chosen].log().tolist()
            else:  # greedy picks with probability 1: no distribution to build
                chosen = self.warpers(input_ids, scores.clone()).argmax(dim=-1) if self.warpers else scores.argmax(dim=-1)
                final = [0.0] * len(chosen)
            raw = (scores[rows, chosen] - torch.logsumexp(scores, dim=-1)).tolist()
            for r in range(len(chosen)):
                self.logprobs[r].append(raw[r])
                self.final_logprobs[r].append(final[r])
            return chosen

        def __call__(self, input_ids, scores):
            chosen = self.pick(input_ids, scores)
            picked = torch.full_like(scores, float("-inf"))
            picked[torch.arange(scores.shape[0], device=scores.device), chosen] = 0.0
            return picked

    return SeededSampler


def _pad_id(lm: LoadedModel) -> int:
    pad = lm.tokenizer.pad_token_id
    return pad if pad is not None else min(_eos_ids(lm))


def _run(lm: LoadedModel, rows: list[list[int]], params: DecodingParams, seeds: list[int], adapter: str | None = None):
    """One call to model.generate on the rows, left-padded to one width (each row's attention mask
    hides its padding); returns (new ids per row, sampler, seconds)."""
    import torch
    from transformers import GenerationConfig, LogitsProcessorList

    tokenizer = lm.tokenizer
    width = max(len(ids) for ids in rows)
    pad_widths = [width - len(ids) for ids in rows]
    # an encoder-decoder model's processors see the reply only, never the (padded) prompt
    sampler = _sampler_class()(params, lm.device, seeds, None if lm.encoder_decoder else pad_widths)
    # SeededSampler has already chosen; greedy keeps its choice. generate() fills settings left
    # unset from the model's generation_config, so every processor that would act in greedy mode
    # is switched off explicitly: the model's defaults reach decoding only through `params`.
    config = GenerationConfig(
        max_new_tokens=params.max_new_tokens,
        do_sample=False,
        repetition_penalty=1.0,
        encoder_repetition_penalty=1.0,
        no_repeat_ngram_size=0,
        min_length=0,
        eos_token_id=lm.model.generation_config.eos_token_id or tokenizer.eos_token_id,
        pad_token_id=_pad_id(lm),
    )
    if lm.encoder_decoder:  # the encoder's input is padded on the right: learned absolute positions (BART) stay put
        input_ids = torch.tensor([ids + [_pad_id(lm)] * pad for ids, pad in zip(rows, pad_widths)], device=lm.device)
        attention_mask = torch.tensor([[1] * len(ids) + [0] * pad for ids, pad in zip(rows, pad_widths)], device=lm.device)
    else:  # padding repeats the row's first token (hidden by the mask): see SeededSampler._unpadded
        input_ids = torch.tensor([[ids[0]] * pad + ids for ids, pad in zip(rows, pad_widths)], device=lm.device)
        attention_mask = torch.tensor([[0] * pad + [1] * len(ids) for ids, pad in zip(rows, pad_widths)], device=lm.device)
    start = time.perf_counter()
    with torch.inference_mode(), lm.using(adapter) as model:
        out = model.generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            generation_config=config,
            logits_processor=LogitsProcessorList([sampler]),
        )
    seconds = time.perf_counter() - start
    # a decoder-only model's output repeats the prompt; an encoder-decoder's starts with the decoder's start token
    return out[:, 1 if lm.encoder_decoder else width:].tolist(), sampler, seconds


def _eos_ids(lm: LoadedModel) -> set[int]:
    eos = lm.model.generation_config.eos_token_id or lm.tokenizer.eos_token_id
    return set(eos if isinstance(eos, list) else [eos])


def _finish(lm: LoadedModel, new_ids, logprobs, final_logprobs, n_prompt, seconds, params, stopped) -> Generation:
    eos = _eos_ids(lm)
    reason = "length"
    for i, token in enumerate(new_ids):
        if token in eos:
            new_ids, reason = new_ids[:i], "eos"
            break
    if stopped and reason == "length" and len(new_ids) < params.max_new_tokens:
        reason = "stopped"
    n = len(new_ids)
    return Generation(
        text=lm.tokenizer.decode(new_ids, skip_special_tokens=True),
        token_ids=new_ids,
        logprobs=logprobs[:n],
        final_logprobs=final_logprobs[:n],
        prompt_tokens=n_prompt,
        seconds=seconds,
        tokens_per_s=n / seconds if seconds > 0 else 0.0,
        finish_reason=reason,
    )


def _prepare(lm: LoadedModel, prompt: str, params: DecodingParams, chat: bool) -> list[int]:
    ids = encode(lm, prompt, chat)
    check_fits(len(ids), params.max_new_tokens, lm.context_window, lm.encoder_decoder)
    return ids


def generate(
    lm: LoadedModel, prompt: str, params: DecodingParams, chat: bool = False, adapter: str | None = None
) -> Generation:
    ids = _prepare(lm, prompt, params, chat)
    if _soft_prompt_by_steps(lm, adapter):
        return _generate_by_steps(lm, ids, params, adapter)
    new_ids, sampler, seconds = _run(lm, [ids], params, [params.seed], adapter=adapter)
    return _finish(lm, new_ids[0], sampler.logprobs[0], sampler.final_logprobs[0], len(ids), seconds, params, False)


def _soft_prompt_by_steps(lm: LoadedModel, adapter: str | None) -> bool:
    """Whether a soft prompt is decoded by our step loop (decoder-only models); PEFT's generate()
    puts an encoder-decoder model's virtual tokens before the encoder's input itself."""
    return lm.has_soft_prompt(adapter) and not lm.encoder_decoder


def _generate_by_steps(lm: LoadedModel, ids: list[int], params: DecodingParams, adapter: str | None) -> Generation:
    """A soft-prompt adapter's completion through the step loop. PEFT's own generate() keeps
    counting positions without the virtual tokens after the first step (measured: it goes on
    past the label a prompt-tuned model learned to end with EOS), while training saw them."""
    sampler = _sampler_class()(params, lm.device, [params.seed])
    start = time.perf_counter()
    new_ids = list(_decode_steps(lm, ids, params, sampler, adapter))
    seconds = time.perf_counter() - start
    return _finish(lm, new_ids, sampler.logprobs[0], sampler.final_logprobs[0], len(ids), seconds, params, False)


def sample_n(
    lm: LoadedModel, prompt: str, params: DecodingParams, n: int, chat: bool = False, adapter: str | None = None
) -> list[Generation]:
    """n completions in one batched call; row i uses seed + i (so row 0 matches `generate`)."""
    if n < 1:
        raise PlaygroundError(f"Number of samples must be at least 1 (got {n}).")
    limits.current().check(n, "samples", "The number of samples")
    ids = _prepare(lm, prompt, params, chat)
    if _soft_prompt_by_steps(lm, adapter):  # one row at a time through the step loop, row i seeded seed + i as below
        return [_generate_by_steps(lm, ids, replace(params, seed=params.seed + r), adapter) for r in range(n)]
    new_ids, sampler, seconds = _run(lm, [ids] * n, params, [params.seed + r for r in range(n)], adapter=adapter)
    return [
        _finish(lm, new_ids[r], sampler.logprobs[r], sampler.final_logprobs[r], len(ids), seconds, params, False)
        for r in range(n)
    ]


def generate_many(
    lm: LoadedModel,
    prompts: list[str],
    params: DecodingParams,
    chat: bool = False,
    adapter: str | None = None,
    batch_size: int = 8,
    on_progress=None,
    stop_event: threading.Event | None = None,
) -> list[Generation | None]:
    """A completion for each prompt, batch_size prompts per forward pass (left-padded), each one
    what `generate` gives for it alone (same seed, padding hidden). Prompts of similar length are
    batched together, so little is spent on padding. Soft prompts and prefix tuning go one at a
    time (their virtual tokens would sit between padding and prompt). on_progress(done, total)
    is called after each batch; once stop_event is set, the rest stay None."""
    if batch_size < 1:
        raise PlaygroundError(f"Batch size must be at least 1 (got {batch_size}).")
    ids = [_prepare(lm, prompt, params, chat) for prompt in prompts]
    step = 1 if lm.is_prompt_learning(adapter) else batch_size
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    results: list[Generation | None] = [None] * len(ids)
    for start in range(0, len(order), step):
        if stop_event is not None and stop_event.is_set():
            break
        chunk = order[start:start + step]
        if _soft_prompt_by_steps(lm, adapter):
            results[chunk[0]] = _generate_by_steps(lm, ids[chunk[0]], params, adapter)
        else:
            new_ids, sampler, seconds = _run(lm, [ids[i] for i in chunk], params, [params.seed] * len(chunk), adapter)
            for row, i in enumerate(chunk):
                results[i] = _finish(lm, new_ids[row], sampler.logprobs[row], sampler.final_logprobs[row], len(ids[i]),
                                     seconds, params, False)
        if on_progress is not None:
            on_progress(min(start + step, len(order)), len(order))
    return results


def _text_stream(tokenizer):
    """A function of one new token id -> the text it completes (maybe ""), never splitting a
    multi-byte character: tokenizers' own DecodeStream for fast tokenizers, else prefix offsets
    (as TGI does) for the rest."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        from tokenizers.decoders import DecodeStream

        decoder = DecodeStream(skip_special_tokens=True)
        return lambda token: decoder.step(backend, token) or ""
    ids: list[int] = []
    offsets = [0, 0]  # prefix, read

    def step(token: int) -> str:
        ids.append(token)
        prefix_text = tokenizer.decode(ids[offsets[0]:offsets[1]], skip_special_tokens=True)
        new_text = tokenizer.decode(ids[offsets[0]:], skip_special_tokens=True)
        if len(new_text) > len(prefix_text) and not new_text.endswith("\ufffd"):
            offsets[:] = [offsets[1], len(ids)]
            return new_text[len(prefix_text):]
        return ""

    return step


def _decode_steps(lm: LoadedModel, ids: list[int], params: DecodingParams, sampler, adapter: str | None):
    """Decode one token at a time in the caller's thread, reusing the KV cache; yields token ids.
    (generate() in a helper thread with a streamer measured 7% slower than a bare generate on a
    CPU; this loop runs the same forward passes and the same SeededSampler, with no thread.)
    An encoder-decoder model's encoder reads the prompt once, at the first step; its decoder writes
    from its start token. Grad mode and the adapter switch are thread-local or thread-owned, and a
    web server may resume this generator on another thread, so both are entered per step, never
    held across a yield."""
    import torch

    eos = _eos_ids(lm)
    prompt = torch.tensor([ids], device=lm.device)
    input_ids = reply_so_far(lm, ids).to(lm.device)  # what the next token follows (and a repetition penalty sees)
    soft_prompt = lm.has_soft_prompt(adapter)
    cache = encoded = None
    for _ in range(params.max_new_tokens):
        with torch.inference_mode(), lm.using(adapter) as model:
            if lm.encoder_decoder and cache is None:
                out = model(input_ids=prompt, decoder_input_ids=input_ids, use_cache=True)
                encoded = (out.encoder_last_hidden_state,)
            elif lm.encoder_decoder:
                out = model(encoder_outputs=encoded, decoder_input_ids=input_ids[:, -1:], cache=cache, use_cache=True)
            elif cache is None and soft_prompt:
                # PEFT puts a soft prompt's learned virtual tokens before the prompt only inside its own
                # generate(); here the first step does the same, and the cache carries them after that.
                embeds = model.word_embeddings(input_ids)
                virtual = model.get_prompt(batch_size=input_ids.shape[0]).to(embeds.dtype)
                out = model.get_base_model()(inputs_embeds=torch.cat([virtual, embeds], dim=1), use_cache=True,
                                             logits_to_keep=1)
            elif cache is None:
                out = model(input_ids=input_ids, use_cache=True, logits_to_keep=1)
            else:
                step_model = model.get_base_model() if soft_prompt else model
                out = step_model(input_ids=input_ids[:, -1:], cache=cache, use_cache=True)
            cache = out.cache
            token = sampler.pick(input_ids, out.logits[:, -1])
            input_ids = torch.cat([input_ids, token[:, None]], dim=-1)
        yield int(token)
        if int(token) in eos:
            return


def stream(
    lm: LoadedModel,
    prompt: str,
    params: DecodingParams,
    chat: bool = False,
    stop_event: threading.Event | None = None,
    adapter: str | None = None,
) -> Iterator[StreamUpdate]:
    """Yield the text as it grows; the last update carries the finished Generation. The model
    runs only while the caller reads, so closing the iterator (a Stop button, a closed browser
    tab) or setting stop_event stops it within one token."""
    ids = _prepare(lm, prompt, params, chat)
    if lm.is_prompt_learning(adapter) and not _soft_prompt_by_steps(lm, adapter):  # PEFT's generate() only
        result = generate(lm, prompt, params, chat, adapter)
        yield StreamUpdate(result.text, len(result.token_ids), result.tokens_per_s, result)
        return
    sampler = _sampler_class()(params, lm.device, [params.seed])
    eos = _eos_ids(lm)
    generated: list[int] = []
    shown = 0
    text, next_text = "", _text_stream(lm.tokenizer)
    stopped = False
    start = time.perf_counter()
    steps = _decode_steps(lm, ids, params, sampler, adapter)
    try:
        for token in steps:
            generated.append(token)
            if token not in eos:
                shown += 1
                piece = next_text(token)
                if piece:
                    text += piece
                    yield StreamUpdate(text=text, n_tokens=shown, tokens_per_s=shown / (time.perf_counter() - start))
            if stop_event is not None and stop_event.is_set():
                stopped = True
                break
    finally:
        steps.close()
    seconds = time.perf_counter() - start
    result = _finish(lm, generated, sampler.logprobs[0], sampler.final_logprobs[0], len(ids), seconds, params, stopped)
    yield StreamUpdate(text=result.text, n_tokens=len(result.token_ids), tokens_per_s=result.tokens_per_s, result=result)


class PromptTokens:
    """Counts and trims prompts with a model's tokenizer (a `prompts.TokenCounter`)."""

    def __init__(self, tokenizer, chat: bool = False):
        self.tokenizer = tokenizer
        self.chat = chat

    def count(self, text: str) -> int:
        return len(encode(self.tokenizer, text, self.chat)) if text.strip() else 0

    def keep_last(self, text: str, n_tokens: int) -> str:
        """The end of `text`, cut so that the whole prompt (template included) has n_tokens."""
        ids = self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
        overhead = self.count(text) - len(ids)
        keep = max(n_tokens - overhead, 1)
        while keep > 0:
            trimmed = self.tokenizer.decode(ids[-keep:])
            if self.count(trimmed) <= n_tokens:  # re-tokenizing can merge differently: check
                return trimmed
            keep -= 1
        raise PlaygroundError("The context window is too small for even the chat template: lower max new tokens.")
