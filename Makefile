# The README's two commands: `make demo` runs the workflow on generated demo data, locally;
# `make test` runs the test suite (two workers, each test file on one: most tests wait on
# processes and services, so two keep both cores busy). Both install what is missing first
# (scripts/setup.sh).
CORES ?= $(shell nproc)

.PHONY: setup demo test test-fast lint bench

setup:
	@bash scripts/setup.sh

demo: setup
	python3 scripts/make_demo_data.py demo
	snakemake --cores $(CORES) --config samples=demo/samples.tsv reference=demo/reference.fa
	@echo "BAMs:           $$(ls results/mapped/*.bam | tr '\n' ' ')"
	@echo "MultiQC report: results/qc/multiqc_report.html"

test: setup
	python3 -m pytest -ra --durations=25 -n 2 --dist loadfile

# The quick loop: translation, specs, settings and other pure tests (no services, no Snakemake runs).
test-fast:
	python3 -m pytest -q -m "not slow"

lint: setup
	ruff check .
	ruff format --check .
	snakefmt --check workflow
	snakemake --lint --config samples=config/samples.tsv

bench: setup
	python3 bench/workflow_vs_baseline.py
