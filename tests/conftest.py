"""Shared fixtures. Hub access is disabled for every test."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def _private_weights_cache(tmp_path_factory: pytest.TempPathFactory):
    """Tests never read or write the user's weights cache (``$LITEDEPTH_CACHE``, also for subprocesses)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LITEDEPTH_CACHE", str(tmp_path_factory.mktemp("litedepth-cache")))
        mp.delenv("LITEDEPTH_WEIGHTS_MANIFEST", raising=False)
        mp.delenv("LITEDEPTH_WEIGHTS_MIRROR", raising=False)
        yield


def _real_data_root() -> Path:
    env = os.environ.get("LITEDEPTH_REAL_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data" / "real"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """Root of the real sample data (``../shared/data/real`` or ``$LITEDEPTH_REAL_DATA``).

    Skips the test with a reason when the folder is absent (as on a user's machine).
    """
    root = _real_data_root()
    if not root.is_dir():
        pytest.skip(f"real sample data not found at {root} (set LITEDEPTH_REAL_DATA)")
    return root


def real_subdir(root: Path, name: str) -> Path:
    """``root / name``, skipping the test when that sample folder is absent."""
    path = root / name
    if not path.is_dir():
        pytest.skip(f"real sample folder {path} is absent")
    return path


@pytest.fixture
def one_thread():
    """One torch intra-op thread for the test, restored after it.

    Oversubscribed OpenMP threads are 10-100x slower on busy 2-core CI machines for networks
    made of many small ops. Modules opt in with ``pytestmark = pytest.mark.usefixtures("one_thread")``.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_hf_model(tmp_path_factory: pytest.TempPathFactory):
    """``tiny_hf_model(arch)``: the folder of a tiny random transformers depth model of ``arch``
    (``depth-anything``, ``depth-anything-metric``, ``dpt``, ``zoedepth``; see
    :mod:`tests.hf_tiny`), written once per session."""
    from tests.hf_tiny import WRITERS

    made: dict[str, Path] = {}

    def get(arch: str) -> Path:
        if arch not in made:
            made[arch] = WRITERS[arch](tmp_path_factory.mktemp(f"tiny-{arch}"))
        return made[arch]

    return get


#: Test files with the longest training runs, longest first. They are collected first so that
#: with ``make test`` (``pytest -n 2 --dist loadfile --no-loadscope-reorder``) each starts at once
#: on a worker while the many short files fill the other; without xdist only the order changes.
LONGEST_FIRST = (
    "tests/tasks/test_self_supervised.py",
    "tests/tasks/test_distillation_oracle.py",
    "tests/tasks/test_self_supervised_cli.py",
    "tests/tasks/test_train.py",
    "tests/teachers/test_pseudo_label.py",
    "tests/tasks/test_overfit_kinect.py",
    "tests/tasks/test_seed001_presets.py",
    "tests/tasks/test_multitask_overfit.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}

    def key(item: pytest.Item) -> int:
        rel = Path(str(item.fspath)).resolve().relative_to(REPO_ROOT).as_posix()
        return rank.get(rel, len(rank))

    items.sort(key=key)  # stable: the order inside each group is unchanged
