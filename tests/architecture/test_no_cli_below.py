"""The CLI sits on top: no library module imports ``litedepth.cli`` (issue 11)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "litedepth"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_library_module_imports_the_cli():
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.parts[0] == "cli" or rel.name == "__main__.py":
            continue
        bad = sorted(n for n in _imports(path) if n == "litedepth.cli" or n.startswith("litedepth.cli."))
        if bad:
            offenders.append(f"{rel}: {', '.join(bad)}")
    assert not offenders, "library modules importing the CLI:\n" + "\n".join(offenders)


def test_importing_inference_loads_no_cli_module():
    code = ("import sys, litedepth.inference, litedepth.inference.files, litedepth.inference.segmentation; "
            "bad = [m for m in sys.modules if m.startswith('litedepth.cli')]; print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
