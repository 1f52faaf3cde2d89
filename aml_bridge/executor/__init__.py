"""The Snakemake executor (`snakemake --profile aml`) and its helpers: submission,
status rounds, preemption, quota waits, the run trace. Never imports admin."""
