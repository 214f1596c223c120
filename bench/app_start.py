"""App start to first page served (goal < 8 s), against a minimal Gradio app started the same
way in the same run. Offline (HF_HUB_OFFLINE=1), fresh home folder. Usage: python bench/app_start.py [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from common import ROOT

MINIMAL = """
import gradio as gr
with gr.Blocks() as demo:
    gr.Markdown("hello")
demo.launch(server_name="127.0.0.1", server_port=int(__import__("os").environ["GRADIO_SERVER_PORT"]), ssr_mode=False)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_to_first_page(cmd: list[str], env: dict) -> float:
    port = free_port()
    env = {**env, "GRADIO_SERVER_PORT": str(port)}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - start < 120:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                    if response.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{cmd} did not serve a page in 120 s")
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    ours, minimal = [], []
    for _ in range(args.reps):
        env["PLAYGROUND_HOME"] = tempfile.mkdtemp(prefix="bench-home-")
        ours.append(time_to_first_page([sys.executable, "app.py"], env))
        minimal.append(time_to_first_page([sys.executable, "-c", MINIMAL], env))
    o, m = statistics.median(ours), statistics.median(minimal)
    print(f"python app.py -> first page: {o:5.2f} s (median of {args.reps}, fresh home, offline)")
    print(f"minimal gradio app -> first page: {m:5.2f} s")
    print(f"ratio app / minimal: {o / m:.2f}x; goal < 8 s -> {'MET' if o < 8 else 'NOT MET'}")


if __name__ == "__main__":
    main()
