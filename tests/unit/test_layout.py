"""The one rule of the layout: playground/ (the library) never imports gradio."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_gradio_import_in_library_source():
    offenders = []
    for path in (ROOT / "playground").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in {"gradio", "gradio_client"}]
    assert offenders == []


def test_importing_every_library_module_does_not_load_gradio():
    modules = [f"playground.{p.stem}" for p in (ROOT / "playground").glob("*.py") if p.stem != "__main__"]
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules) + "print('gradio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_top_level_layout_exists():
    for name in ["app.py", "playground", "pages", "adapters", "assets", "tests", "bench", "docs/ARCHITECTURE.md",
                 "requirements.txt", "README.md", ".ci/run"]:
        assert (ROOT / name).exists(), name


def test_requirements_are_pinned_exactly():
    lines = [l.strip() for l in (ROOT / "requirements.txt").read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert "torch==2.13.0" in lines
    assert "trl==1.12.0" in lines
    assert all("==" in line for line in lines), lines
