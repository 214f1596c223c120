"""ZeroGPU, the Hugging Face Spaces hardware whose GPUs are shared: what the library needs to know of it.

There a GPU exists only during a call of a function decorated with `spaces.GPU`, made by the app's
own process (pages/gpu_calls.py puts the labs' computation in such calls, in a worker forked from
the app). The app keeps its models on the CPU, in bfloat16, and a worker moves each onto its GPU
once. (`spaces`, which Gradio imports, patches torch so that a model put "on cuda" in the app's main
thread waits for the GPU; that works in no other thread, and Gradio's handlers run in others, so the
app never relies on it. The patch also makes torch say a GPU is there when none is.) Runs
(fine-tuning, evaluation, RLHF, the pairs the Rate tab writes) are processes of their own, and
ZeroGPU lends them nothing: they are kept on the CPU."""

from __future__ import annotations

import os

NOTE = ("This Space runs on ZeroGPU hardware: the Prompt Lab and the Decoding Lab borrow a GPU for each request "
        "(the first one takes a few seconds longer while the model moves onto it). Runs (fine-tuning, evaluation, "
        "RLHF, the pairs the Rate tab writes) are processes of their own, which ZeroGPU lends no GPU: they use the "
        "CPU here. To train on a GPU, choose dedicated GPU hardware in the Space's settings.")


def on_zero_gpu() -> bool:
    """A ZeroGPU Space (the `spaces` package's own test)."""
    return os.environ.get("SPACES_ZERO_GPU", "").strip().lower() in ("1", "t", "true")


def compute_on_cuda() -> bool:
    """Whether this process's own work (a run, a memory estimate) can use a CUDA GPU. Never on
    ZeroGPU, where torch may say yes in the app's process without a GPU to back it."""
    import torch

    return not on_zero_gpu() and torch.cuda.is_available()


def model_placement(cpu_only: bool = False) -> tuple[str, object]:
    """(device, torch dtype) for a model this process loads to generate with: a CUDA GPU in bfloat16
    (float32 where it lacks bfloat16); on ZeroGPU the CPU in bfloat16, ready to be moved onto the GPU a
    call is lent; else (or `cpu_only`) the CPU in float32, which is faster there."""
    import torch

    if on_zero_gpu() and not cpu_only:
        return "cpu", torch.bfloat16
    if compute_on_cuda() and not cpu_only:
        return "cuda", torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    return "cpu", torch.float32


def without_gpu(env: dict) -> dict:
    """The environment for a run's process: on ZeroGPU with every GPU hidden from it."""
    return {**env, "CUDA_VISIBLE_DEVICES": ""} if on_zero_gpu() else env
