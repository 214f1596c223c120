"""What the Settings tab says about the machine."""

from playground import health


def test_the_device_says_what_it_trains_on_and_that_zero_gpu_is_not_used(monkeypatch):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    plain = health.device()
    assert "cores" in plain["CPU"] and ("GPU" in plain or "GPU 0" in plain) and "ZeroGPU" not in plain
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")  # what a ZeroGPU Space sets
    assert health.on_zero_gpu() and "models run on the CPU here" in health.device()["ZeroGPU"]
