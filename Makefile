# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
# Tests run on both cores; set JOBS=1 to run them serially.
JOBS   ?= 2
# One BLAS/OpenMP thread per test worker: two workers with two threads each on two cores were
# several times slower than one thread each (measured).
TEST_ENV := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
# The DNA and activity data are read from the janggu and sktime wheels (a package download,
# never installed). rnnkit.datasets looks for them in $RNNKIT_DATA/wheels (default
# ~/.cache/rnnkit/wheels) and keeps its parse caches there; the tests use a folder in the venv.
DATA_WHEELS := janggu==0.10.2 sktime==1.2.0
TEST_DATA   := $(CURDIR)/$(VENV)/rnnkit-data
USER_DATA   := $(or $(RNNKIT_DATA),$(HOME)/.cache/rnnkit)

.PHONY: test demo bench data clean

$(VENV)/.installed-test: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -e '.[test]'
	$(PIP) download -q --no-deps $(DATA_WHEELS) -d $(TEST_DATA)/wheels
	touch $@

$(VENV)/.installed-demo: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -e '.[demo]'
	touch $@

test: $(VENV)/.installed-test
	$(TEST_ENV) RNNKIT_DATA=$(TEST_DATA) $(PY) -m pytest -n $(JOBS) tests

# ~2 minutes: trains a character-level LSTM on the Python stdlib, writes runs/demo/.
# Options pass through ARGS, e.g. `make demo ARGS="--quick"` or ARGS="--minutes 5".
demo: $(VENV)/.installed-demo
	$(VENV)/bin/rnnkit demo $(ARGS)

# The wheels that hold the examples' DNA and activity data, where the loaders look by default;
# and the packages of the other examples' data (music21, statsmodels, scikit-learn).
data:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -e '.[examples]'
	$(PIP) download -q --no-deps $(DATA_WHEELS) -d $(USER_DATA)/wheels

bench: $(VENV)/.installed-test
	$(PY) benchmarks/bench_recurrent.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache

# ---- issue 12: the compiled kernels' tests under numba's bounds checking ----------------------
# NUMBA_BOUNDSCHECK=1 alone is not enough: the kernels are cache=True and numba's cache key
# does not include the flag, so a fresh NUMBA_CACHE_DIR forces a checked compile (see
# docs/guarantees.md). An out-of-bounds index then raises IndexError instead of corrupting memory.
.PHONY: test-boundscheck
test-boundscheck: $(VENV)/.installed-test
	BC=$$(mktemp -d) && $(TEST_ENV) NUMBA_BOUNDSCHECK=1 NUMBA_CACHE_DIR=$$BC RNNKIT_DATA=$(TEST_DATA) \
	  $(PY) -m pytest -q tests/test_fast_kernels.py tests/test_boundary_checks.py; rc=$$?; \
	  rm -rf $$BC; exit $$rc
