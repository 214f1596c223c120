"""What the Settings tab says about the machine."""

from playground import health


def test_the_device_says_what_it_trains_on_and_what_zero_gpu_is_used_for(monkeypatch):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    plain = health.device()
    assert "cores" in plain["CPU"] and ("GPU" in plain or "GPU 0" in plain) and "ZeroGPU" not in str(plain)
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")  # what a ZeroGPU Space sets
    assert health.device()["GPU"].startswith("ZeroGPU: lent to the Prompt and Decoding Labs")


def test_runs_on_zero_gpu_get_no_gpu_and_plan_for_the_cpu(monkeypatch):
    """ZeroGPU lends a GPU to the app's own spaces.GPU calls only: a run's process must not find one
    (and its memory estimate must be the CPU's), even where the app's patched torch says there is one."""
    import torch

    from playground.zero_gpu import compute_on_cuda, without_gpu

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # what `spaces` makes torch say
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert compute_on_cuda() and "CUDA_VISIBLE_DEVICES" not in without_gpu({"A": "1"})
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    assert not compute_on_cuda() and without_gpu({"A": "1"}) == {"A": "1", "CUDA_VISIBLE_DEVICES": ""}
