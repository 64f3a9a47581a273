# Every target sets itself up: the virtual environment is created and the package
# installed on first use (and again whenever pyproject.toml changes).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

setup: $(STAMP)

# more options: make demo DEMO_ARGS="--max-minutes 10"
demo: $(STAMP)
	$(BIN)/litedepth demo --output demo_output $(DEMO_ARGS)

# TEST_WORKERS processes (pytest-xdist) share the cores, one thread each; test files stay whole on
# one worker (module fixtures are built once) and, in collection order (--no-loadscope-reorder), the
# longest training files start first (tests/conftest.py).
TEST_WORKERS ?= 2
test: $(STAMP)
	HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=25

test-fast: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) demo_output runs .pytest_cache
