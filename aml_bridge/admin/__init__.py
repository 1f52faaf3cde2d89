"""`aml-genomics`: set up, check and export a workspace's workflow, report a run.
Imports model and gateway, never executor."""
