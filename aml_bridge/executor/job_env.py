"""Environment variables for the remote job: the declared ones, never a secret."""

from __future__ import annotations

import re
from collections.abc import Mapping

SECRET = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|PASSWD|SAS|CONNECTION_STRING|CREDENTIAL", re.I)


def job_env_vars(candidates: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """(variables for the job spec, secret-looking names left out).

    candidates: what Snakemake would pass to a spawned job (declared `envvars` and the storage
    plugins' settings). Job specs are visible to everyone with access to the workspace, so
    secrets stay out; the cluster's identity gives jobs their storage access.
    """
    passed, withheld = {}, []
    for name in sorted(candidates):
        if SECRET.search(name):
            withheld.append(name)
        else:
            passed[name] = candidates[name]
    return passed, withheld
