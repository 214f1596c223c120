"""What the integration tests share."""

import time


def api_client(url: str, **kwargs):
    """A gradio_client for the app under test, one call at a time. Plain http to this machine: no
    certificates to load (by default each request loads the CA bundle, a fifth of a client's CPU,
    taken from the server sharing the machine). Requests may wait up to a minute: httpx's default
    of 5 s fails when twenty clients start at once on a loaded 2-core machine, each fetching the
    app's 265 KB API description, which the server computes on first request."""
    from concurrent import futures

    from gradio_client import Client

    class SequentialClient(Client):
        """After each call, waits until the client's message reader has read the server's
        close_stream (the server closes a session's stream when its last event completes).
        gradio_client 2.7.2 races there: a call made before the reader got to it is registered
        with the closing reader, which then cancels it (CancelledError), as CI saw under load."""

        def predict(self, *args, **kw):
            result = super().predict(*args, **kw)
            reader = self.streaming_future
            if reader is not None:
                futures.wait([reader], timeout=60)
            return result

    return SequentialClient(url, verbose=False, ssl_verify=False, httpx_kwargs={"timeout": 60}, **kwargs)


def wait_for(predicate, timeout=180, what="condition", every=0.3):
    """The first truthy value of predicate(), polled until `timeout` seconds have passed."""
    start = time.time()
    while time.time() - start < timeout:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def drifted_lora(base_dir, folder) -> None:
    """Save a LoRA adapter of `base_dir` with random (not zero) weights: greedy, it writes other
    text than the base."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(str(base_dir)),
                           LoraConfig(r=8, target_modules="all-linear", init_lora_weights=False))
    model.save_pretrained(folder)


def logged_losses(jobs, run_id) -> list[tuple[int, float]]:
    """(step, training loss) of each logged step of a run."""
    return [(e["step"], e["loss"]) for e in jobs.events(run_id)[0] if e["type"] == "log" and "loss" in e]


def ended(jobs, name):
    """A predicate for wait_for: the run named `name` is no longer running or queued."""
    def check():
        jobs.refresh()
        return jobs.get(name)["status"] not in ("running", "queued")
    return check
