# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
# Tests run on both cores; set JOBS=1 to run them serially.
JOBS   ?= 2
# One thread per test worker, through rnnkit's thread policy (RNNKIT_NUM_THREADS; it holds
# numpy's BLAS at one thread inside rnnkit) and torch's OpenMP: two workers with two threads
# each on two cores were several times slower than one thread each (measured).
TEST_ENV := RNNKIT_NUM_THREADS=1 OMP_NUM_THREADS=1
# The DNA and activity data are read from the janggu and sktime wheels (a package download,
# never installed). rnnkit.datasets looks for them in $RNNKIT_DATA/wheels (default
# ~/.cache/rnnkit/wheels) and keeps its parse caches there; the tests use a folder in the venv.
DATA_WHEELS := janggu==0.10.2 sktime==1.2.0
TEST_DATA   := $(CURDIR)/$(VENV)/rnnkit-data
USER_DATA   := $(or $(RNNKIT_DATA),$(HOME)/.cache/rnnkit)

.PHONY: test demo bench data clean docs gallery browser

$(VENV)/.installed-test: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -e '.[test]'
	$(PIP) download -q --no-deps $(DATA_WHEELS) -d $(TEST_DATA)/wheels
	touch $@

$(VENV)/.installed-demo: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -e '.[demo]'
	touch $@

test: $(VENV)/.installed-test browser
	$(TEST_ENV) RNNKIT_DATA=$(TEST_DATA) $(PY) -m pytest -n $(JOBS) tests

# rnnkit view's browser tests (tests/test_view_browser.py) drive Debian's chromium through
# Playwright (never `playwright install`). Installed with apt-get when missing and apt is usable
# (root, or sudo without a password); otherwise those tests skip with a one-line reason.
browser:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then :; \
	elif ! command -v apt-get >/dev/null 2>&1; then echo "browser: no apt-get here; the browser tests will skip"; \
	else SUDO=; [ "$$(id -u)" = 0 ] || SUDO="sudo -n"; \
	  ( $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null ) \
	  || echo "browser: apt-get could not install chromium; the browser tests will skip"; fi

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

# Both tables of docs/benchmarks.md, each into its own marked section (the rest of the page
# stays): the kernel view (one layer, one thread, CPU time), then `rnnkit bench --procs` (the
# public API, each competitor in its own process, 1, 2 and all cores). Run it on a quiet machine.
# Then MinGRU and MinLSTM against rnnkit's and torch's LSTM/GRU, T = 100, 512, 4096 (issue 16).
bench: $(VENV)/.installed-test
	$(PY) benchmarks/bench_recurrent.py --shapes all --kernels fast,reference --threads 1 \
		--cpu-time --repeats 7 --out docs/benchmarks.md
	$(VENV)/bin/rnnkit bench --procs --out docs/benchmarks.md
	$(VENV)/bin/rnnkit bench --cells mingru,minlstm --threads 1 --cpu-time --repeats 5 \
		--steps 0 --shapes "16,100,64,128;16,512,64,128;16,4096,64,128;16,100,64,512;16,512,64,512;16,4096,64,512" \
		--memory-shape "16,512,64,128;16,4096,64,128;16,512,64,512;16,4096,64,512" --out docs/benchmarks.md

# Every example's full run (about half an hour; the README's timings come from a quiet machine),
# then the README's gallery tables rewritten from their metrics.json (rnnkit/cli/gallery.py).
# ARGS pass through, e.g. ARGS="--no-run" (only rewrite) or ARGS="--only speech,dna".
gallery: data
	$(VENV)/bin/rnnkit examples gallery $(ARGS)

# The docs site (mkdocs.yml: the README, the floor plan, an API page per area read from the
# docstrings) into site/, warnings as errors. `make test` builds it too (tests/test_docs_build.py).
$(VENV)/.installed-docs: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -e '.[docs]'
	touch $@

docs: $(VENV)/.installed-docs
	$(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache site

# ---- issue 12: the compiled kernels' tests under numba's bounds checking ----------------------
# NUMBA_BOUNDSCHECK=1 alone is not enough: the kernels are cache=True and numba's cache key
# does not include the flag, so a fresh NUMBA_CACHE_DIR forces a checked compile (see
# docs/guarantees.md). An out-of-bounds index then raises IndexError instead of corrupting memory.
.PHONY: test-boundscheck
test-boundscheck: $(VENV)/.installed-test
	BC=$$(mktemp -d) && $(TEST_ENV) NUMBA_BOUNDSCHECK=1 NUMBA_CACHE_DIR=$$BC RNNKIT_DATA=$(TEST_DATA) \
	  $(PY) -m pytest tests/test_fast_kernels.py tests/test_boundary_checks.py; rc=$$?; \
	  rm -rf $$BC; exit $$rc
