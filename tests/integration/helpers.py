"""What the integration tests share."""

import time


def wait_for(predicate, timeout=180, what="condition", every=0.3):
    """The first truthy value of predicate(), polled until `timeout` seconds have passed."""
    start = time.time()
    while time.time() - start < timeout:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")
