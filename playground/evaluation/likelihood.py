"""How likely each reference answer is under a model: the summed negative log-likelihood of its
tokens after the prompt, and how many tokens it has. Perplexity is exp(NLL / tokens). No text is
generated, so it measures what a model learned even when greedy decoding hides it."""

from __future__ import annotations

import threading

from playground.generation import encode, keep_start
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
    """(summed NLL in nats, token count) of each reference given its prompt, in batches of rows of
    similar length. A prompt too long for a decoder-only model's window loses its start (an
    encoder-decoder's, its end)."""
    pairs = [reference_tokens(lm, p, r, chat) for p, r in zip(prompts, references)]
    window = lm.context_window
    if lm.encoder_decoder:  # the prompt and the reply each have the window; a long prompt keeps its start, as in training
        rows = [(keep_start(prompt_ids, window, lm.tokenizer), ref_ids[:window]) for prompt_ids, ref_ids in pairs]
        score = _reply_nll
    else:  # one window for both: the reference first
        rows, score = [], _continuation_nll
        for prompt_ids, ref_ids in pairs:
            ref_ids = ref_ids[: window - 1]
            rows.append((prompt_ids[-max(window - len(ref_ids), 1):], ref_ids))
    order = sorted(range(len(rows)), key=lambda i: sum(map(len, rows[i])))
    results: list[tuple[float, int] | None] = [None] * len(rows)
    for start in range(0, len(order), batch_size):
        if stop_event is not None and stop_event.is_set():
            break
        chunk = order[start:start + batch_size]
        for i, result in zip(chunk, score(lm, [rows[i] for i in chunk], adapter)):
            results[i] = result
        if on_progress is not None:
            on_progress(min(start + batch_size, len(order)), len(order))
    return results


def _right_padded(lm: LoadedModel, rows: list[list[int]], width: int):
    """(ids, attention mask) of the rows right-padded to `width`, on the model's device."""
    import torch

    pad = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else 0
    ids = torch.tensor([row + [pad] * (width - len(row)) for row in rows], device=lm.device)
    mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows], device=lm.device)
    return ids, mask


def _continuation_nll(lm: LoadedModel, rows: list[tuple[list[int], list[int]]], adapter: str | None) -> list[tuple[float, int]]:
    """A decoder-only model: each reference read after its prompt, in one sequence."""
    import torch

    width = max(sum(map(len, row)) for row in rows)
    input_ids, mask = _right_padded(lm, [prompt + ref for prompt, ref in rows], width)
    with torch.inference_mode(), lm.using(adapter) as model:
        # a soft prompt's virtual tokens come first in the logits: the last `width` positions are the row's
        logits = model(input_ids=input_ids, attention_mask=mask).logits[:, -width:].float()
    logprobs = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, input_ids[:, 1:, None])[..., 0]
    # the token at position t is predicted by the logits at t - 1
    return [(float(-logprobs[row, len(prompt) - 1:len(prompt) - 1 + len(ref)].sum()), len(ref))
            for row, (prompt, ref) in enumerate(rows)]


def _reply_nll(lm: LoadedModel, rows: list[tuple[list[int], list[int]]], adapter: str | None) -> list[tuple[float, int]]:
    """An encoder-decoder model: the encoder reads the prompt, the decoder is fed its start token and
    the reference (teacher forcing)."""
    import torch

    from playground.generation import decoder_start

    input_ids, mask = _right_padded(lm, [prompt for prompt, _ in rows], max(len(prompt) for prompt, _ in rows))
    targets, _ = _right_padded(lm, [ref for _, ref in rows], max(1, *(len(ref) for _, ref in rows)))
    decoder_ids = torch.cat([torch.full_like(targets[:, :1], decoder_start(lm)), targets[:, :-1]], dim=1)
    with torch.inference_mode(), lm.using(adapter) as model:
        logits = model(input_ids=input_ids, attention_mask=mask, decoder_input_ids=decoder_ids).logits.float()
    logprobs = torch.log_softmax(logits, dim=-1).gather(-1, targets[..., None])[..., 0]
    return [(float(-logprobs[row, :len(ref)].sum()), len(ref)) for row, (_, ref) in enumerate(rows)]
