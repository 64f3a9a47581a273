"""The apps' packages: optional dependencies stay inside the subpackage that needs them, the
assistant's package names resolve, and the former module paths are deprecated aliases."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "litedepth"

#: optional dependency -> the only folder (under src/litedepth) whose modules may import it
OPTIONAL = {"ultralytics": "apps/assistant", "gradio": "apps/serve", "playwright": None}

#: former module -> the module it now is
MOVED = {
    "litedepth.apps.assist": "litedepth.apps.assistant",
    "litedepth.apps.alerts": "litedepth.apps.assistant.alerts",
    "litedepth.apps.detectors": "litedepth.apps.assistant.detectors",
    "litedepth.apps.scale": "litedepth.apps.assistant.scale",
    "litedepth.apps.speech": "litedepth.apps.assistant.speech",
    "litedepth.apps.serve_media": "litedepth.apps.serve.media",
}


def _imports(tree: ast.Module):
    """``(top-level package imported, at load time?)`` for every import of a module: an import
    outside every function (module level, class body, ``try`` or ``if`` included) runs on load."""
    in_functions = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                    for n in ast.walk(f)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        else:
            modules = [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
        yield from ((m.split(".")[0], id(node) not in in_functions) for m in modules)


def test_optional_dependencies_are_imported_only_where_used():
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        for package, on_load in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if package not in OPTIONAL:
                continue
            home = OPTIONAL[package]
            if home is None or not rel.startswith(home + "/"):
                wrong.append(f"{rel} imports {package} (only {home or 'the tests'} may)")
            elif on_load:
                wrong.append(f"{rel} imports {package} when it is loaded (import it in the function that uses it)")
    assert not wrong, "\n".join(wrong)


def test_the_apps_import_without_their_optional_dependencies():
    """With Ultralytics and Gradio missing, every app module and the CLI still import."""
    modules = ["litedepth.cli.main", "litedepth.apps.serve", "litedepth.apps.serve.media"] + [
        f"litedepth.apps.assistant.{p.stem}" for p in sorted((SRC / "apps" / "assistant").glob("*.py"))
        if p.stem != "__init__"]
    code = ("import sys\nfor name in ('ultralytics', 'gradio'):\n    sys.modules[name] = None\n"
            f"import importlib\nfor m in {modules!r}:\n    importlib.import_module(m)\nprint('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_assistant_package_names_resolve_to_their_modules():
    import litedepth.apps.assistant as assistant

    for name in assistant.__all__:
        value = getattr(assistant, name)
        module = importlib.import_module(f"litedepth.apps.assistant.{assistant._WHERE[name]}")
        assert value is getattr(module, name), name
    with pytest.raises(AttributeError):
        assistant.no_such_name  # noqa: B018


@pytest.mark.parametrize("old", sorted(MOVED))
def test_former_module_paths_are_deprecated_aliases(old, monkeypatch):
    new = importlib.import_module(MOVED[old])
    monkeypatch.delitem(sys.modules, old, raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        alias = importlib.import_module(old)
    assert alias is new and sys.modules[old] is new
    assert any(issubclass(w.category, DeprecationWarning) and MOVED[old] in str(w.message) for w in caught)


def test_former_assist_module_names_still_import():
    """Every public name of the former ``litedepth.apps.assist`` (split into four modules) and the
    tracker names of the former ``litedepth.apps.alerts`` are the new objects."""
    from litedepth.apps.assistant import depth, drawing, pipeline, session, tracker

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old_assist = importlib.import_module("litedepth.apps.assist")
        old_alerts = importlib.import_module("litedepth.apps.alerts")
    former = {"DepthEstimator": depth, "DepthFiles": depth, "PredictorDepth": depth, "AssistConfig": pipeline,
              "AssistPipeline": pipeline, "FrameResult": pipeline, "annotate": drawing, "run_assist": session}
    for name, module in former.items():
        assert getattr(old_assist, name) is getattr(module, name), name
    assert old_alerts.IouTracker is tracker.IouTracker and old_alerts.box_iou is tracker.box_iou
