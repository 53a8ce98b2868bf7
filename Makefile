# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
# Tests run on both cores; set JOBS=1 to run them serially.
JOBS   ?= 2

.PHONY: test demo bench clean

$(VENV)/.installed-test: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test]'
	touch $@

$(VENV)/.installed-demo: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -e '.[demo]'
	touch $@

test: $(VENV)/.installed-test
	$(PY) -m pytest -n $(JOBS) tests

demo: $(VENV)/.installed-demo
	$(PY) -m rnnkit demo

bench: $(VENV)/.installed-test
	$(PY) benchmarks/bench_recurrent.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
