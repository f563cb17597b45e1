# The two commands of the README:
#   make paper   set up .venv if needed, run the workflow on the embedded default model, render the paper
#   make test    set up .venv if needed, run the test suite
EXPERIMENT ?= default
MODELS ?=
RENDERER ?= auto
CORES ?= $(shell nproc)
VENV := .venv/bin
# Keep Jupyter, IPython, matplotlib and Snakemake state out of $HOME.
export XDG_CACHE_HOME := $(CURDIR)/cache/xdg
export IPYTHONDIR := $(CURDIR)/cache/jupyter/ipython
export JUPYTER_RUNTIME_DIR := $(CURDIR)/cache/jupyter/runtime
export JUPYTER_DATA_DIR := $(CURDIR)/cache/jupyter/data
export JUPYTER_CONFIG_DIR := $(CURDIR)/cache/jupyter/config
export MPLCONFIGDIR := $(CURDIR)/cache/matplotlib
export PATH := $(CURDIR)/.venv/bin:$(PATH)

.PHONY: env paper runs test test-fast dry-run signal contrast bench
SIGNAL ?= default,signal-q80

env:
	@bash scripts/setup_env.sh

paper: env
	$(VENV)/snakemake -s workflow/Snakefile --profile workflow/profiles/local --cores $(CORES) \
		--config experiment=$(EXPERIMENT) renderer=$(RENDERER) models=$(MODELS)
	@$(VENV)/python -m wsteer.timing $(EXPERIMENT)

runs: env  # seeds + summaries of EXPERIMENT (e.g. a control such as signal-placebo), no paper
	$(VENV)/snakemake -s workflow/Snakefile --profile workflow/profiles/local --cores $(CORES) summaries \
		--config experiment=$(EXPERIMENT) models=$(MODELS)

dry-run: env
	$(VENV)/snakemake -s workflow/Snakefile --cores 1 --config experiment=$(EXPERIMENT) -n

test: env
	$(VENV)/python -m pytest -q

test-fast: env
	$(VENV)/python -m pytest -q -m "not slow"

signal: env
	$(VENV)/snakemake -s workflow/Snakefile --profile workflow/profiles/local --cores $(CORES) signal_all \
		--config signal=$(SIGNAL) models=$(MODELS)

contrast: env  # persona contrast of EXPERIMENT's completions under θ0 (does the data carry the trait?)
	$(VENV)/snakemake -s workflow/Snakefile --profile workflow/profiles/local --cores $(CORES) contrast_all \
		--config experiment=$(EXPERIMENT) models=$(MODELS)

bench: env
	$(VENV)/python -m wsteer.bench
