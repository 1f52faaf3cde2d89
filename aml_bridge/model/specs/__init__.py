"""Job types side by side: a Snakemake job → an Azure ML job spec, each a pure function of
plain data (`command`: one job, one command job; `pipeline`: a group of independent jobs, one
pipeline job with one parallel step). `common` holds what they share."""
