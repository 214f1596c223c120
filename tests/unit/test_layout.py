"""The layers of the project (the library never reaches gradio, the pages or the app; training
never imports the job system), lint, and exact pins of every package the code imports."""

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
    modules = [".".join(p.relative_to(ROOT).with_suffix("").parts) for p in (ROOT / "playground").rglob("*.py")
               if p.stem not in ("__main__", "__init__")]
    assert "playground.training.sft" in modules
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules) + "print('gradio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_importing_the_app_loads_no_training_library():
    """The page starts without torch, transformers, peft or trl (they load when a model or run needs
    them): a page module importing a training module at its top once doubled the app's start time."""
    heavy = ("torch", "transformers", "peft", "trl", "datasets", "bitsandbytes")
    code = f"import sys, app\nprint([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_top_level_layout_exists():
    for name in ["app.py", "playground", "pages", "adapters", "assets", "tests", "bench", "docs/ARCHITECTURE.md",
                 "requirements.txt", "README.md", ".ci/run"]:
        assert (ROOT / name).exists(), name


def test_requirements_are_pinned_exactly():
    lines = [row.strip() for row in (ROOT / "requirements.txt").read_text().splitlines() if row.strip() and not row.startswith("#")]
    assert "torch==2.13.0" in lines
    assert "trl==1.12.0" in lines
    assert all("==" in line for line in lines), lines


def _run_tool(*args):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_import_contracts_hold():
    """.importlinter: every import, lazy ones included, of every module of the library and pages."""
    out = _run_tool("-c", "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())",
                    "--config", ".importlinter")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout and "3 kept" in out.stdout


def test_ruff_is_clean():
    out = _run_tool("-m", "ruff", "check", ".")
    assert out.returncode == 0, out.stdout[-3000:]


def test_every_imported_package_is_pinned():
    import importlib.metadata

    distributions = importlib.metadata.packages_distributions()
    pinned = {row.split("==")[0].strip().lower().replace("_", "-") for row in (ROOT / "requirements.txt").read_text().splitlines()
              if "==" in row and not row.startswith("#")}
    imported = set()
    for path in [*(ROOT / "playground").rglob("*.py"), *(ROOT / "pages").rglob("*.py"), ROOT / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    third_party = {m for m in imported if m in distributions and m not in sys.stdlib_module_names}
    missing = {m: distributions[m] for m in third_party
               if not {d.lower().replace("_", "-") for d in distributions[m]} & pinned}
    assert "torch" in third_party and not missing, missing
