"""Which models can be used, and the one-slot cache that holds the loaded one.

A model reference is a curated Hub id, any Hub id, a local folder, or the built-in tiny model.
Tokenizers load on their own (cheap), so prompts can be counted without loading weights.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from playground import access, limits
from playground.errors import PlaygroundError
from playground.runs import check_name
from playground.settings import Settings
from playground.tiny_model import TINY_MODEL_NAME, build_tiny_model

CURATED_MODELS = [
    "HuggingFaceTB/SmolLM2-135M-Instruct",
    "HuggingFaceTB/SmolLM2-360M-Instruct",
    "Qwen/Qwen2.5-0.5B-Instruct",
    "Qwen/Qwen2.5-1.5B-Instruct",
    "google/flan-t5-base",  # encoder-decoder: the labs, Rate, Evaluate and Fine-tune; not RLHF so far
]
TINY_ALIASES = {"tiny", TINY_MODEL_NAME}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
ProgressFn = Callable[[float, str], None]


def _no_progress(fraction: float, message: str) -> None:
    pass


PROMPT_LEARNING = {"PROMPT_TUNING", "P_TUNING", "PREFIX_TUNING", "MULTITASK_PROMPT_TUNING"}
SOFT_PROMPTS = {"PROMPT_TUNING", "P_TUNING"}


@dataclass
class LoadedModel:
    """A model ready to run, with what the UI shows about it.

    Adapters of any PEFT type share this one base, used in any order. PEFT can't hold adapters
    of different types in one PeftModel ("Cannot combine adapters with different peft types"),
    so the base carries the adapters of one type at a time: asking for an adapter of another
    type takes the current ones off (`unload()`, never a merge) and loads the new type's. Every
    use of the model goes through `using()`, under one lock, so a request never sees another's
    adapter, nor a half-attached one."""

    ref: str
    model: object  # transformers PreTrainedModel, or the PeftModel around it (typed loosely: torch imports lazily)
    tokenizer: object
    device: str
    dtype: str
    context_window: int
    n_params: int
    # last-position logits per prompt, so a slider change never re-runs the model
    logits_cache: OrderedDict = field(default_factory=OrderedDict)
    token_texts: dict = field(default_factory=dict)  # id -> decoded text, for chart labels
    forward_passes: int = 0
    adapters: dict = field(default_factory=dict)  # name -> folder: known adapters of this base
    adapter_types: dict = field(default_factory=dict)  # name -> PEFT type (LORA, IA3, PROMPT_TUNING, ...)
    _on_model: set = field(default_factory=set)  # names loaded into the current PeftModel
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def attach(self, name: str, folder: str) -> None:
        """Make an adapter available by name (it is loaded onto the base when first used)."""
        import json

        try:
            peft_type = json.loads((Path(folder) / "adapter_config.json").read_text(encoding="utf-8"))["peft_type"]
        except (OSError, ValueError, KeyError) as err:
            raise PlaygroundError(f"'{folder}' has no readable adapter_config.json: it is not a PEFT adapter.") from err
        with self._lock:
            if name in self._on_model and self.adapters.get(name) != folder:
                self._take_adapters_off()  # the name now means another folder: load it afresh
            self.adapters[name] = folder
            self.adapter_types[name] = str(peft_type)
            self._load(name)  # now, so a bad adapter is reported when it is picked

    @property
    def encoder_decoder(self) -> bool:
        """An encoder-decoder model (T5, FLAN-T5, BART): the prompt is read by the encoder, and the
        reply is a sequence of its own, started from the decoder's start token."""
        return is_encoder_decoder_config(self.model.config)

    @property
    def random_weights(self) -> bool:
        """The built-in tiny model: its weights are random, so it babbles."""
        return self.ref in TINY_ALIASES

    def has_soft_prompt(self, adapter: str | None) -> bool:
        """Prompt tuning or P-tuning: learned embeddings put before the prompt's (decoding can add them itself)."""
        return bool(adapter) and self.adapter_types.get(adapter) in SOFT_PROMPTS

    def is_prompt_learning(self, adapter: str | None) -> bool:
        return bool(adapter) and self.adapter_types.get(adapter) in PROMPT_LEARNING

    def _current_type(self) -> str | None:
        return next((self.adapter_types[n] for n in self._on_model), None)

    def _load(self, name: str) -> None:
        """Put adapter `name` on the model, taking off adapters of another PEFT type first."""
        if name in self._on_model:
            return
        current = self._current_type()
        if current is not None and current != self.adapter_types[name]:
            self._take_adapters_off()
        try:
            if not self._on_model:
                from peft import PeftModel

                # torch_device: PEFT's own guess asks torch, which on ZeroGPU says "cuda" where there is none
                self.model = PeftModel.from_pretrained(self.model, self.adapters[name], adapter_name=name,
                                                       torch_device=self.device).eval()
            else:
                self.model.load_adapter(self.adapters[name], adapter_name=name, torch_device=self.device)
        except Exception as err:
            del self.adapters[name]
            raise PlaygroundError(
                f"Could not load adapter '{name}' on {self.ref}: {_first_line(err)}. Adapters must come from this base model."
            ) from err
        self._on_model.add(name)

    def _take_adapters_off(self) -> None:
        """Back to the bare base: LoRA/(IA)³ layers removed (unload, never merged), soft prompts dropped."""
        if self._on_model:
            self.model = self.model.get_base_model() if self._current_type() in PROMPT_LEARNING else self.model.unload()
            self._on_model.clear()

    @contextlib.contextmanager
    def using(self, adapter: str | None):
        """The model to call with one adapter active, or the untouched base (adapter None), held
        for the duration of the block."""
        if adapter and adapter not in self.adapters:
            raise PlaygroundError(f"Adapter '{adapter}' is not loaded: pick it under Adapters first.")
        with self._lock:
            if adapter:
                self._load(adapter)
                self.model.set_adapter(adapter)
                yield self.model
            elif not self._on_model:
                yield self.model
            elif self._current_type() in PROMPT_LEARNING:
                yield self.model.get_base_model()  # soft prompts live outside the base: the base is untouched
            else:
                with self.model.disable_adapter():
                    yield self.model

    @contextlib.contextmanager
    def locked(self):
        """For the small shared caches (logits, token texts)."""
        with self._lock:
            yield

    def describe(self) -> str:
        from playground.zero_gpu import on_zero_gpu

        where = "a ZeroGPU GPU, lent per request" if on_zero_gpu() else self.device.upper()
        window = (f"encoder-decoder, prompts up to {self.context_window:,} tokens" if self.encoder_decoder
                  else f"context window {self.context_window:,} tokens")
        return f"**{self.ref}** · {self.n_params / 1e6:,.1f}M parameters · {self.dtype} on {where} · {window}"


def is_encoder_decoder_config(config) -> bool:
    """Whether a model config describes an encoder-decoder model (FLAN-T5, BART)."""
    return bool(getattr(config, "is_encoder_decoder", False))


def auto_model_class(config) -> str:
    """The transformers Auto class that writes text with this config's model: an encoder-decoder
    (FLAN-T5, BART) or a decoder-only (causal) language model."""
    return "AutoModelForSeq2SeqLM" if is_encoder_decoder_config(config) else "AutoModelForCausalLM"


def source_config(source: str):
    """The config of a resolved model (a folder or a Hub id): no weights are read."""
    (AutoConfig,) = _from_transformers("AutoConfig")
    return AutoConfig.from_pretrained(source)


def context_window_of(config, tokenizer) -> int:
    window = getattr(config, "max_position_embeddings", None)
    if window:
        return int(window)
    limit = getattr(tokenizer, "model_max_length", None)
    return int(limit) if limit and limit < 1_000_000 else 2048


def hub_reachable(settings: Settings, timeout: float = 2.0) -> bool:
    """Whether huggingface.co (or HF_ENDPOINT) answers; False at once when HF_HUB_OFFLINE is set."""
    if settings.hub_offline:
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    result = [False]

    def probe() -> None:
        try:
            with socket.create_connection((host, 443), timeout=timeout):
                result[0] = True
        except OSError:
            pass

    # DNS lookups ignore socket timeouts, so the probe runs in a thread we stop waiting for.
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return result[0]


def hub_weights(hub_id: str) -> tuple[float, str | None]:
    """The size in MB of a Hub model's safetensors weights (what loading it downloads), from the
    Hub's listing, and the commit that listing describes."""
    from huggingface_hub import HfApi

    try:
        info = HfApi().model_info(hub_id, files_metadata=True, timeout=10)
    except Exception as err:  # not found, gated, or the Hub did not answer
        raise PlaygroundError(f"Could not look up '{hub_id}' on the Hugging Face Hub: {_first_line(err)}") from err
    sizes = [s.size or 0 for s in info.siblings or [] if s.rfilename.endswith(".safetensors")]
    if not sizes:
        raise PlaygroundError(f"'{hub_id}' has no safetensors weights: this app loads only safetensors files.")
    return sum(sizes) / 2**20, getattr(info, "sha", None)


def is_cached(hub_id: str) -> bool:
    """Whether a Hub model's config and weights are in the cache (a tokenizer alone, fetched for
    token counts, is not the model)."""
    from huggingface_hub import try_to_load_from_cache

    def has(name: str) -> bool:
        return isinstance(try_to_load_from_cache(hub_id, name), str)

    return has("config.json") and (has("model.safetensors") or has("model.safetensors.index.json"))


class ModelManager:
    """Keeps up to `settings.model_slots` models loaded (least recently used goes first, and every
    other one goes when memory would not hold the next); loads lazily. A request keeps the model it
    got for as long as it runs, even if another visitor's choice takes its slot meanwhile."""

    def __init__(self, settings: Settings, cpu_only: bool = False):
        self.settings = settings
        self.cpu_only = cpu_only  # models on the CPU even where a GPU is (see zero_gpu.model_placement)
        self._lock = threading.RLock()
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()  # most recently used last
        self._tokenizers: OrderedDict[str, tuple[object, int]] = OrderedDict()
        self._generation_configs: dict[str, object] = {}
        self._encoder_decoder: dict[str, bool] = {}  # filled with the tokenizer entry
        self._online: bool | None = None
        # demo mode: Hub id -> how to fetch it (the commit whose size was checked, or the cache only)
        self._pinned: dict[str, dict] = {}
        _MANAGERS.add(self)

    # ---- resolving references ----
    def online(self) -> bool:
        if self._online is None:
            self._online = hub_reachable(self.settings)
        return self._online

    def resolve(self, ref: str) -> str:
        """Turn what the user typed into a local folder or a Hub id that can be loaded now."""
        ref = _reference(ref)
        if not ref:
            raise PlaygroundError("No model chosen. Pick one from the list, type a Hub id, or a local folder.")
        if ref in TINY_ALIASES:
            return str(self.tiny_model_dir())
        if self.settings.demo:  # no folder of the server is looked at, so none is revealed either
            access.check_hub_id(ref, access.DEMO_MODELS)
        path = Path(ref).expanduser()
        if not self.settings.demo and access.is_dir(path):
            if not (path / "config.json").exists():
                raise PlaygroundError(f"The folder {ref} has no config.json: it is not a transformers model folder.")
            return str(path)
        if ref.startswith((".", "/", "~")) or not _HUB_ID.match(ref):
            raise PlaygroundError(
                f"'{ref}' is neither a local model folder nor a Hub id like 'HuggingFaceTB/SmolLM2-135M-Instruct'."
            )
        cached = is_cached(ref)
        if not cached and not self.online():
            raise PlaygroundError(
                f"'{ref}' is not downloaded yet and the Hugging Face Hub can't be reached (offline). "
                f"Pick '{TINY_MODEL_NAME}' to try the controls, or a local model folder."
            )
        if self.settings.demo:
            self._pin(ref, cached)
        return ref

    def _pin(self, hub_id: str, cached: bool) -> None:
        """A visitor can't make a demo download a model it can't hold: an uncached model's weights
        are measured once, and that commit is what the labs load, even if the repository grows
        later. A cached model loads from the cache only (never a newer commit)."""
        if hub_id in self._pinned:
            return
        if cached:
            self._pinned[hub_id] = {"local_files_only": True}
            return
        megabytes, commit = hub_weights(hub_id)
        limits.current().check(round(megabytes), "model_mb", f"The weights of '{hub_id}' in MB")
        self._pinned[hub_id] = {"revision": commit} if commit else {}

    def fetch_options(self, ref: str) -> dict:
        """Keyword arguments for from_pretrained of a resolved `ref`: in demo mode, the checked commit."""
        return dict(self._pinned.get(_reference(ref), {}))

    def tiny_model_dir(self, seed: int = 0) -> Path:
        folder = self.settings.models_dir / f"tiny-seed{seed}"
        with self._lock:
            if not (folder / "model.safetensors").exists():
                _from_transformers("GenerationConfig", "LlamaConfig", "LlamaForCausalLM")  # see _from_transformers
                build_tiny_model(folder, seed=seed)
        return folder

    def base_names(self, ref: str) -> set[str]:
        """What an adapter trained on this model may have recorded as its base: the model as typed,
        and for the tiny model its other name and its folder (adapters.made_from compares them)."""
        ref = _reference(ref)
        return set(TINY_ALIASES) | {str(self.tiny_model_dir())} if ref in TINY_ALIASES else {ref}

    def base_shape(self, ref: str) -> tuple | None:
        """adapters.shape_of the model's local folder (the tiny model's, or one typed; never looked
        for in demo mode), else None (a Hub id: its adapters recorded it by name)."""
        from playground.adapters import shape_of

        ref = _reference(ref)
        if ref in TINY_ALIASES:
            return shape_of(self.tiny_model_dir())
        return None if self.settings.demo or not ref else shape_of(ref)

    def availability_notice(self, ref: str) -> str | None:
        """A plain sentence when `ref` can't be used right now (shown at start-up), else None."""
        try:
            self.resolve(ref)
        except PlaygroundError as err:
            return str(err)
        return None

    # ---- tokenizers (cheap, cached separately from weights) ----
    def tokenizer(self, ref: str) -> tuple[object, int]:
        """(tokenizer, context window) for `ref`, without loading its weights."""
        ref = _reference(ref)
        with self._lock:
            if ref in self._models:
                return self._models[ref].tokenizer, self._models[ref].context_window
            if ref in self._tokenizers:
                self._tokenizers.move_to_end(ref)
                return self._tokenizers[ref]
        source = self.resolve(ref)
        AutoConfig, AutoTokenizer = _from_transformers("AutoConfig", "AutoTokenizer")

        own_code, fetch = self.runs_own_code(ref), self.fetch_options(ref)
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=own_code, **fetch)
            config = AutoConfig.from_pretrained(source, trust_remote_code=own_code, **fetch)
        except Exception as err:
            raise PlaygroundError(f"Could not load the tokenizer of '{ref}': {_explained(err)}") from err
        entry = (tokenizer, context_window_of(config, tokenizer))
        with self._lock:
            self._tokenizers[ref] = entry
            self._encoder_decoder[ref] = is_encoder_decoder_config(config)
            while len(self._tokenizers) > 4:
                self._tokenizers.popitem(last=False)
        return entry

    def is_encoder_decoder(self, ref: str) -> bool:
        """Whether `ref` is an encoder-decoder model (read from its config, without its weights)."""
        ref = _reference(ref)
        with self._lock:
            if ref in self._models:
                return self._models[ref].encoder_decoder
            if ref in self._encoder_decoder:
                return self._encoder_decoder[ref]
        self.tokenizer(ref)
        with self._lock:
            return self._encoder_decoder[ref]

    def training_source(self, ref: str, encoder_decoder_ok: bool = False) -> str:
        """`resolve` for a base model to train. The RLHF kinds train decoder-only (causal) models
        only, so for them (`encoder_decoder_ok` False) an encoder-decoder one is refused before
        anything starts."""
        source = self.resolve(ref)
        if not encoder_decoder_ok and self.is_encoder_decoder(ref):
            raise PlaygroundError(
                f"'{ref}' is an encoder-decoder model (T5-style): reward models, DPO, KTO, PPO, GRPO and RLOO work with "
                "decoder-only models so far (SmolLM2, Qwen2.5, Llama), so pick one of those. Fine-tune (every method), "
                "the labs and Evaluate take this model.")
        return source

    def generation_config(self, ref: str):
        """The model's generation_config.json (its own decoding defaults) without loading weights, or None."""
        ref = _reference(ref)
        with self._lock:
            if ref in self._models:
                return self._models[ref].model.generation_config
            if ref in self._generation_configs:
                return self._generation_configs[ref]
        (GenerationConfig,) = _from_transformers("GenerationConfig")

        try:
            config = GenerationConfig.from_pretrained(self.resolve(ref), **self.fetch_options(ref))
        except (OSError, ValueError):
            config = None  # the model ships none: transformers' defaults apply
        with self._lock:
            self._generation_configs[ref] = config
        return config

    # ---- weights ----
    def get(self, ref: str, progress: ProgressFn = _no_progress, adapters: tuple[str, ...] = ()) -> LoadedModel:
        """The loaded model for `ref` (loading it, and making room for it, when needed), with
        the named adapters (names in the adapters folder, or folders) attached."""
        ref = _reference(ref)
        with self._lock:
            lm = self._models.get(ref)
            if lm is None:
                source = self.resolve(ref)
                progress(0.05, f"Loading {ref}…")
                self._make_room(weights_bytes(source))
                lm = self._models[ref] = _load(ref, source, progress, own_code=self.runs_own_code(ref),
                                               fetch=self.fetch_options(ref), cpu_only=self.cpu_only)
                self._encoder_decoder[ref] = lm.encoder_decoder  # (is_encoder_decoder: known for every loaded model)
                progress(1.0, f"Loaded {ref}")
            self._models.move_to_end(ref)
            for adapter in adapters:
                lm.attach(*self.adapter_folder(adapter))
            return lm

    def _make_room(self, needed: int | None) -> None:
        """Unload the least recently used models until a slot is free and, as far as can be told,
        the next model's weights fit in the free memory (unknown size: it gets the memory alone)."""
        while self._models and (len(self._models) >= self.settings.model_slots or needed is None
                                or needed * 1.2 > free_memory_bytes()):
            self._models.popitem(last=False)
            _release_memory()

    def adapter_folder(self, adapter: str) -> tuple[str, str]:
        """(name, folder) for an adapter given by name (in the adapters folder) or, except in demo mode, by path."""
        if self.settings.demo:
            check_name(adapter)
            path = self.settings.adapters_dir / adapter
        else:
            path = Path(adapter).expanduser()
            if not access.is_dir(path):
                path = self.settings.adapters_dir / adapter
        if not (path / "adapter_config.json").exists():
            raise PlaygroundError(f"'{adapter}' is not a PEFT adapter folder (no adapter_config.json). "
                                  "Full fine-tuned models are picked as models instead.")
        return path.name, str(path)

    def runs_own_code(self, ref: str) -> bool:
        """Whether a person allowed this model's own code to run (trusted_code.py); never the tiny model."""
        from playground.store import Store
        from playground.trusted_code import is_trusted

        return ref not in TINY_ALIASES and is_trusted(Store(self.settings.db_path), ref)

    @property
    def loaded(self) -> LoadedModel | None:
        """The model used last (None before any)."""
        with self._lock:
            return next(reversed(self._models.values()), None)

    def loaded_refs(self) -> list[str]:
        with self._lock:
            return list(self._models)

    def _after_fork(self) -> None:
        self._lock = threading.RLock()
        for lm in self._models.values():
            lm._lock = threading.RLock()

    def unload(self) -> None:
        with self._lock:
            if self._models:
                self._models.clear()
                _release_memory()


def _release_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def weights_bytes(source: str) -> int | None:
    """The size of a model's weights files: a local folder's, or a cached Hub model's (None: unknown)."""
    folder = Path(source)
    if not folder.is_dir():
        from huggingface_hub import try_to_load_from_cache

        config = try_to_load_from_cache(source, "config.json")
        if not isinstance(config, str):
            return None
        folder = Path(config).parent
    sizes = [p.stat().st_size for p in folder.glob("*.safetensors")]
    return sum(sizes) if sizes else None


def free_memory_bytes() -> int:
    """Free memory where models are loaded: the GPU's, else the system's (on ZeroGPU too: models
    wait in the app's memory between the calls that lend a GPU)."""
    import psutil
    import torch

    from playground.zero_gpu import compute_on_cuda

    if compute_on_cuda():
        return torch.cuda.mem_get_info()[0]
    return psutil.virtual_memory().available


_IMPORT_LOCK = threading.Lock()
_MANAGERS: weakref.WeakSet = weakref.WeakSet()


def _fresh_locks_after_fork() -> None:
    """In a process forked from this one (a ZeroGPU call's worker): a fork copies each lock as it
    was, and one that another thread held at that moment would never be released there."""
    global _IMPORT_LOCK
    _IMPORT_LOCK = threading.Lock()
    for manager in list(_MANAGERS):
        manager._after_fork()


os.register_at_fork(after_in_child=_fresh_locks_after_fork)


WARM_UP_NAMES = ("AutoConfig", "AutoTokenizer", "AutoModelForCausalLM", "GenerationConfig", "LogitsProcessor",
                 "LogitsProcessorList", "RepetitionPenaltyLogitsProcessor", "TemperatureLogitsWarper", "TopKLogitsWarper",
                 "TopPLogitsWarper")


def _from_transformers(*names: str) -> tuple:
    """transformers' lazy module is not safe to import from several threads at once: web requests
    arriving together at a cold start saw "cannot import name 'AutoConfig'". Imports of these
    names are serialized here, and `warm_up()` makes them before the first request."""
    with _IMPORT_LOCK:
        import transformers

        return tuple(getattr(transformers, name) for name in names)


def warm_up() -> threading.Thread:
    """Import what handlers need from transformers in the background (the app starts serving at
    once; a request that needs transformers waits for this)."""
    thread = threading.Thread(target=_from_transformers, args=WARM_UP_NAMES, daemon=True, name="import-warm-up")
    thread.start()
    return thread


def _reference(ref) -> str:
    """What a person (or an API client) gave as a model: text, else refused in plain words."""
    if ref is None:
        return ""
    if not isinstance(ref, str):
        raise PlaygroundError(f"A model is named by text (a menu name, a Hub id or a folder), not {type(ref).__name__} "
                              f"{str(ref)[:40]}.")
    return ref.strip()


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _explained(err: BaseException) -> str:
    """transformers' refusal to run a model's own code, said with where to allow it."""
    text = _first_line(err)
    if "trust_remote_code" in str(err):
        return ("it ships its own Python code, which runs only for a model allowed in the Settings tab "
                "(\"Models that may run their own code\"; an admin's choice)")
    return text


def _load(ref: str, source: str, progress: ProgressFn, own_code: bool = False, fetch: dict | None = None,
          cpu_only: bool = False) -> LoadedModel:
    from playground.attention import avoid_cudnn_attention
    from playground.zero_gpu import model_placement

    avoid_cudnn_attention()  # before any generation: a plan per new length would cost more than the tokens
    AutoConfig, AutoTokenizer = _from_transformers("AutoConfig", "AutoTokenizer")
    device, dtype = model_placement(cpu_only)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=own_code, **(fetch or {}))
        config = AutoConfig.from_pretrained(source, trust_remote_code=own_code, **(fetch or {}))
        (AutoModel,) = _from_transformers(auto_model_class(config))
        progress(0.2, f"Loading the weights of {ref}…")
        model = AutoModel.from_pretrained(source, use_safetensors=True, dtype=dtype, trust_remote_code=own_code,
                                          **(fetch or {}))
    except Exception as err:
        raise PlaygroundError(
            f"Could not load '{ref}' as a text-generation model: {_explained(err)}. "
            "Check the id (it must be a text-generation model, decoder-only or encoder-decoder) or pick another one."
        ) from err
    model.to(device).eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return LoadedModel(
        ref=ref,
        model=model,
        tokenizer=tokenizer,
        device=device,
        dtype=str(dtype).removeprefix("torch."),
        context_window=context_window_of(model.config, tokenizer),
        n_params=sum(p.numel() for p in model.parameters()),
    )
