"""Which attention kernels a model runs with on a CUDA GPU.

PyTorch's scaled-dot-product attention picks cuDNN's kernels first on Hopper GPUs (H100, H200).
cuDNN builds an execution plan on the CPU for every new input shape, and a run's shapes change at
every step (each batch has its own length; generation adds a token at a time). Measured on an H200
(`bench/gpu_profile.py`, a 0.5B model, batches of 8 x up to 512 tokens): 0.95 s of CPU per training
step in cuDNN's attention against 73 ms of GPU work for the whole step. Flash and memory-efficient
attention need no plan; with cuDNN's turned off, PyTorch chooses between them."""

from __future__ import annotations


def avoid_cudnn_attention() -> None:
    """Turn cuDNN's attention off for this process (a no-op on a CPU)."""
    import torch

    torch.backends.cuda.enable_cudnn_sdp(False)
