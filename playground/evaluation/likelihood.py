"""How likely each reference answer is under a model: the summed negative log-likelihood of its
tokens after the prompt, and how many tokens it has. Perplexity is exp(NLL / tokens). No text is
generated, so it measures what a model learned even when greedy decoding hides it."""

from __future__ import annotations

import threading

from playground.generation import encode
from playground.models import LoadedModel


def reference_tokens(lm: LoadedModel, prompt: str, reference: str, chat: bool) -> tuple[list[int], list[int]]:
    """(prompt ids, reference ids) as fine-tuning saw them: the completion follows the prompt
    after a space, or is the assistant's turn under the chat template; an encoder-decoder model's
    is the decoder's own text."""
    prompt_ids = encode(lm, prompt, chat)
    text = reference.strip() if chat or lm.encoder_decoder else " " + reference.strip()
    return prompt_ids, lm.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]


def reference_nll(lm: LoadedModel, prompts: list[str], references: list[str], chat: bool = False,
                  adapter: str | None = None, batch_size: int = 8, on_progress=None,
                  stop_event: threading.Event | None = None) -> list[tuple[float, int] | None]:
    """(summed NLL in nats, token count) of each reference given its prompt. Rows are
    right-padded in batches; a prompt too long for the context window loses its start."""
    import torch

    pairs = [reference_tokens(lm, p, r, chat) for p, r in zip(prompts, references)]
    if lm.encoder_decoder:
        return _reply_nll(lm, pairs, adapter, batch_size, on_progress, stop_event)
    rows = []
    for prompt_ids, ref_ids in pairs:
        ref_ids = ref_ids[: lm.context_window - 1]
        keep = max(lm.context_window - len(ref_ids), 1)
        rows.append((prompt_ids[-keep:], ref_ids))
    pad = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else 0
    order = sorted(range(len(rows)), key=lambda i: sum(map(len, rows[i])))
    results: list[tuple[float, int] | None] = [None] * len(rows)
    for start in range(0, len(order), batch_size):
        if stop_event is not None and stop_event.is_set():
            break
        chunk = order[start:start + batch_size]
        width = max(sum(map(len, rows[i])) for i in chunk)
        ids = [rows[i][0] + rows[i][1] for i in chunk]
        input_ids = torch.tensor([x + [pad] * (width - len(x)) for x in ids], device=lm.device)
        mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids], device=lm.device)
        with torch.inference_mode(), lm.using(adapter) as model:
            # a soft prompt's virtual tokens come first in the logits: the last `width` positions are the row's
            logits = model(input_ids=input_ids, attention_mask=mask).logits[:, -width:].float()
        logprobs = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, input_ids[:, 1:, None])[..., 0]
        for row, i in enumerate(chunk):
            n_prompt, n_ref = len(rows[i][0]), len(rows[i][1])
            # the token at position t is predicted by the logits at t - 1
            results[i] = (float(-logprobs[row, n_prompt - 1:n_prompt - 1 + n_ref].sum()), n_ref)
        if on_progress is not None:
            on_progress(min(start + batch_size, len(order)), len(order))
    return results


def _reply_nll(lm: LoadedModel, pairs: list[tuple[list[int], list[int]]], adapter: str | None, batch_size: int,
               on_progress, stop_event) -> list[tuple[float, int] | None]:
    """reference_nll for an encoder-decoder model: the encoder reads the prompt (its end kept where
    it is too long), the decoder is fed its start token and the reference (teacher forcing)."""
    import torch

    from playground.generation import decoder_start

    window = lm.context_window
    rows = [(prompt_ids[-window:], ref_ids[:window]) for prompt_ids, ref_ids in pairs]
    pad, start_id = lm.tokenizer.pad_token_id or 0, decoder_start(lm)
    order = sorted(range(len(rows)), key=lambda i: sum(map(len, rows[i])))
    results: list[tuple[float, int] | None] = [None] * len(rows)
    for start in range(0, len(order), batch_size):
        if stop_event is not None and stop_event.is_set():
            break
        chunk = order[start:start + batch_size]
        prompts, refs = [rows[i][0] for i in chunk], [rows[i][1] for i in chunk]
        width, ref_width = max(map(len, prompts)), max(1, *map(len, refs))
        input_ids = torch.tensor([p + [pad] * (width - len(p)) for p in prompts], device=lm.device)
        mask = torch.tensor([[1] * len(p) + [0] * (width - len(p)) for p in prompts], device=lm.device)
        targets = torch.tensor([r + [pad] * (ref_width - len(r)) for r in refs], device=lm.device)
        decoder_ids = torch.cat([torch.full_like(targets[:, :1], start_id), targets[:, :-1]], dim=1)
        with torch.inference_mode(), lm.using(adapter) as model:
            logits = model(input_ids=input_ids, attention_mask=mask, decoder_input_ids=decoder_ids).logits.float()
        logprobs = torch.log_softmax(logits, dim=-1).gather(-1, targets[..., None])[..., 0]
        for row, i in enumerate(chunk):
            n_ref = len(rows[i][1])
            results[i] = (float(-logprobs[row, :n_ref].sum()), n_ref)
        if on_progress is not None:
            on_progress(min(start + batch_size, len(order)), len(order))
    return results
