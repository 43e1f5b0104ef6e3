# Two set-up-free targets for a fresh machine: `make demo` and `make test`.
# Both create .venv, install embsim with its test extras, build the Cython
# kernels, and run.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEMO_DIR ?= demo_out

.PHONY: install build test lint demo bench clean

$(STAMP): setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel cython numpy
	$(PY) -m pip install --quiet -e '.[test,fast]'
	touch $(STAMP)

install: $(STAMP)

# Rebuild changed .pyx kernels in place (a no-op when nothing changed).
build: install
	$(PY) setup.py -q build_ext --inplace

# Two workers for the suite; host measurements (calibration) run afterwards, alone.
test: build
	$(PY) -m pytest -q -n 2 -m "not serial" tests
	$(PY) -m pytest -q -m serial tests

# ruff (pyflakes, pycodestyle errors, bugbear) and mypy, both configured in pyproject.toml.
lint: install
	$(VENV)/bin/ruff check embsim tests bench validation
	$(VENV)/bin/mypy

demo: build
	$(VENV)/bin/embsim demo -o $(DEMO_DIR) --force

bench: build
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf build $(VENV) embsim.egg-info
	find embsim -name '*.so' -delete
	find embsim -name '*.c' -path '*/embsim/*' -newer setup.py -delete
