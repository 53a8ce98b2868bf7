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

.PHONY: test demo bench clean

$(VENV)/.installed-test: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -e '.[test]'
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

bench: $(VENV)/.installed-test
	$(PY) benchmarks/bench_recurrent.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
