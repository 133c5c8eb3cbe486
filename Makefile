# Two commands do everything on a fresh machine:
#   make book   -> the HTML book in _build/html, rendered from the notebooks' stored outputs
#   make test   -> unit tests, notebook checks, nbval re-execution, strict book build, browser, PDF
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The offline copy of the data sets, when this checkout has one beside it.
SHARED_DATA := $(abspath ../shared/data)
ifneq ($(wildcard $(SHARED_DATA)/README.md),)
export TUTORIAL_DATA_MIRROR ?= $(SHARED_DATA)
endif
# Reproducible, quiet notebook runs: TensorFlow's C++ log lines and oneDNN's notices vary by machine.
export TF_CPP_MIN_LOG_LEVEL := 3
export TF_ENABLE_ONEDNN_OPTS := 0
export PYTHONHASHSEED := 0
export MPLBACKEND := module://matplotlib_inline.backend_inline

# `time_stage NAME COMMAND...` runs a stage and prints how long it took.
time_stage = start=$$(date +%s); $(2); echo "[stage] $(1): $$(( $$(date +%s) - start )) s"


.PHONY: help format setup book pdf pdf-check results test unit notebooks nbval nbval-perturbed nbval-both-paths nbval-one-thread nbval-perturbed-one-thread export setup-cells book-strict browser-deps browser lab sync execute clean readme-picture

help:
	@echo "make book   build the HTML book into _build/html (stored outputs, no data needed)"
	@echo "make test   run every check: unit tests, notebook checks, nbval, strict book build, browser, PDF"
	@echo "make pdf    the whole book as one PDF, _build/pdf/book.pdf (headless Chromium, offline)"
	@echo "make lab    start JupyterLab with the project's kernel"
	@echo "make execute  re-run every notebook top to bottom and store its outputs (authors)"
	@echo "make export   copy the chapters' cells tagged export into tutorial_utils (authors)"

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ipykernel)" >/dev/null
	touch $(STAMP)

setup: $(STAMP)

results: $(STAMP)
	@$(BIN)/python scripts/render_results.py
	@$(BIN)/python scripts/render_tabs.py

book: $(STAMP) results
	@$(call time_stage,book,$(BIN)/jupyter-book build . --all --quiet)
	@echo "Book: $(CURDIR)/_build/html/index.html"

test: $(STAMP)
	@total=$$(date +%s); \
	$(MAKE) --no-print-directory unit notebooks nbval-both-paths book-strict browser pdf-check; \
	echo "[stage] make test total: $$(( $$(date +%s) - total )) s"

unit: $(STAMP)
	@$(call time_stage,unit tests,$(BIN)/python -m pytest -q tests --ignore=tests/test_notebooks.py --ignore=tests/browser --ignore=tests/pdf)

# Pairing and "was it executed" checks are part of tests/test_notebooks.py; nbval re-executes.
notebooks: $(STAMP)
	@$(call time_stage,notebook structure,$(BIN)/python -m pytest -q tests/test_notebooks.py)

NBVAL := $(BIN)/python -m pytest -q -p no:cacheprovider --nbval --nbval-current-env \
	--nbval-sanitize-with nbval_sanitize.cfg --nbval-cell-timeout 600

# Re-executes every notebook and compares each cell's output with the stored one; the few
# path-dependent cells (listed first) are not compared, and assert their claims instead.
nbval: $(STAMP)
	@$(BIN)/python scripts/path_dependent_cells.py
	@$(call time_stage,nbval,$(NBVAL) notebooks)

# The same check on another floating-point path: PyTorch's non-vectorised kernels, MKL and oneDNN
# limited to AVX2, TensorFlow on oneDNN instead of Eigen. An output that passes both passes is a
# property of the maths at its printed precision, not of this machine's arithmetic.
PERTURBED_PATH := ATEN_CPU_CAPABILITY=default MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2 TF_ENABLE_ONEDNN_OPTS=1
nbval-perturbed: $(STAMP)
	@$(call time_stage,nbval on another floating-point path,env $(PERTURBED_PATH) $(NBVAL) notebooks)

# What `make test` runs: both passes at once, as two processes of one thread each, then the
# notebook that times its own processes against each other (chapter 7) alone, on both paths.
# One thread per process keeps the two passes from competing for the same cores.
ONE_THREAD := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1
TIMED_NOTEBOOKS := notebooks/07_char_rnn_ddp.ipynb
UNTIMED_NOTEBOOKS = $(filter-out $(TIMED_NOTEBOOKS),$(sort $(wildcard notebooks/*.ipynb)))
nbval-both-paths: $(STAMP)
	@$(BIN)/python scripts/path_dependent_cells.py
	@$(call time_stage,nbval on both paths (two processes of one thread),$(MAKE) --no-print-directory -j2 --output-sync=target nbval-one-thread nbval-perturbed-one-thread)
	@$(call time_stage,nbval of chapter 7 on both paths,$(NBVAL) $(TIMED_NOTEBOOKS); env $(PERTURBED_PATH) $(NBVAL) $(TIMED_NOTEBOOKS))

nbval-one-thread: $(STAMP)
	@env $(ONE_THREAD) $(NBVAL) $(UNTIMED_NOTEBOOKS)

nbval-perturbed-one-thread: $(STAMP)
	@env $(ONE_THREAD) $(PERTURBED_PATH) $(NBVAL) $(UNTIMED_NOTEBOOKS)

book-strict: $(STAMP) results
	@rm -rf _build/.doctrees
	@$(call time_stage,book (warnings are errors),$(BIN)/jupyter-book build . --all --warningiserror --keep-going --quiet)

# Debian's Chromium for the browser test (Playwright drives it; it never downloads a browser).
browser-deps:
	@command -v chromium >/dev/null || { \
		if [ "$$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; \
		else echo "chromium is missing; installing it needs root: apt-get install chromium" >&2; exit 1; fi; \
		$$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# Opens the built book (book-strict or book first) page by page; screenshots go to _build/screenshots/.
browser: $(STAMP) browser-deps
	@$(call time_stage,browser test,$(BIN)/python -m pytest -q -p no:cacheprovider tests/browser)

# The whole book as one PDF: a single-page HTML build (_build/singlehtml) printed by Debian's
# Chromium (scripts/book_pdf.py): no LaTeX, no download, no network.
pdf: $(STAMP) results browser-deps
	@$(call time_stage,book PDF,$(BIN)/python scripts/book_pdf.py)
	@echo "PDF: $(CURDIR)/_build/pdf/book.pdf"

# The PDF built and printed, then checked: every chapter's title, its length, figures, maths.
pdf-check: $(STAMP) results browser-deps
	@$(call time_stage,book PDF (build and checks),$(BIN)/python scripts/book_pdf.py; $(BIN)/python -m pytest -q -p no:cacheprovider --noconftest tests/pdf)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks

sync: $(STAMP)
	$(BIN)/jupytext --sync notebooks/*.ipynb

# Every notebook's first cell: install the helper package from _config.yml's repository when missing.
setup-cells: $(STAMP)
	$(BIN)/python scripts/setup_cells.py

# The notebooks' code at 79 columns (ruff, configured in pyproject.toml), then the setup cells,
# the paired .ipynb files and the exported modules brought in step.
format: $(STAMP)
	$(BIN)/python scripts/setup_cells.py
	$(BIN)/ruff format notebooks/*.py
	$(BIN)/jupytext --quiet --to ipynb --update notebooks/*.py
	$(BIN)/python scripts/export_notebooks.py

# The cells tagged "export" in the chapters -> the modules of tutorial_utils they feed.
export: $(STAMP)
	$(BIN)/python scripts/export_notebooks.py

NOTEBOOKS ?= $(wildcard notebooks/*.ipynb)
execute: $(STAMP)
	$(BIN)/jupytext --sync $(NOTEBOOKS:.ipynb=.py)
	$(BIN)/python scripts/export_notebooks.py
	@for nb in $(NOTEBOOKS); do \
		$(call time_stage,$$nb,$(BIN)/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=900 $$nb); done
	$(BIN)/jupytext --sync $(NOTEBOOKS)

clean:
	rm -rf _build

# The README's picture of the book: the browser test's 1280x800 shot of the intro page.
readme-picture: browser
	cp _build/screenshots/readme.png book/_static/screenshot.png
