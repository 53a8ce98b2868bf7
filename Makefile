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
# Where rnnkit.datasets looks for downloaded wheels (DNA and activity data are read from the
# janggu and sktime wheels, never installed) and keeps its parsed caches.
export RNNKIT_DATA ?= $(CURDIR)/$(VENV)/rnnkit-data
DATA_WHEELS := janggu==0.10.2 sktime==1.2.0

.PHONY: test demo bench data clean

$(VENV)/.installed-test: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -e '.[test]'
	$(PIP) download -q --no-deps $(DATA_WHEELS) -d $(RNNKIT_DATA)/wheels
	touch $@

$(VENV)/.installed-demo: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -e '.[demo]'
	touch $@

test: $(VENV)/.installed-test
	$(TEST_ENV) $(PY) -m pytest -n $(JOBS) tests

# ~2 minutes: trains a character-level LSTM on the Python stdlib, writes runs/demo/.
# Options pass through ARGS, e.g. `make demo ARGS="--quick"` or ARGS="--minutes 5".
demo: $(VENV)/.installed-demo
	$(VENV)/bin/rnnkit demo $(ARGS)

# The wheels that hold the DNA and activity data (a package download, nothing installed).
data:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) download -q --no-deps $(DATA_WHEELS) -d $(RNNKIT_DATA)/wheels

bench: $(VENV)/.installed-test
	$(PY) benchmarks/bench_recurrent.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
