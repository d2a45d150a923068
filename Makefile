# mdargy: `make demo` and `make test` set everything up in .venv and run.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.mdargy-installed
# Re-install only when the packaging (or the compiled plugin's sources) changed.
INSTALL_DEPS := setup.cfg pyproject.toml $(wildcard setup.py) $(wildcard mdargy/potentials/mtp/src/*) $(wildcard mdargy/potentials/mtp/build.py)

.PHONY: test demo install clean bench

install: $(STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): $(VENV)/bin/python $(INSTALL_DEPS)
	$(PY) -m pip install -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q tests

demo: $(STAMP)
	$(PY) scripts/demo.py

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
