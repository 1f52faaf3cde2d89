"""Reading a conda environment file's package specs, and finding the ones no solver can satisfy.

Conda dependencies are read as conda match specs (rattler.MatchSpec: channel, name, version,
build) and the pip section as PEP 508 requirements (packaging), never split by hand. Used by the
executor before it registers or submits anything, and by the local Azure ML service when it
builds an environment: a conda file that asks for two pythons fails there as on Azure, where the
image build fails minutes later with a solver error.
"""

from __future__ import annotations

from conda_specs.problems import (
    conda_problems,
    conda_specs,
    pip_requirements,
    spec_meets,
)

__all__ = ["conda_problems", "conda_specs", "pip_requirements", "spec_meets"]
