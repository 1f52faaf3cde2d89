"""How many tags the bridge puts on each job type itself, counted off the spec builders' own
tags (a job with no user tags), so the user's budget (`--aml-tags`) cannot drift from them."""

from __future__ import annotations

from aml_bridge.model.names import TAGS_MAX
from aml_bridge.model.specs.common import JobFacts, RunContext, job_tags
from aml_bridge.model.specs.pipeline import group_tags

_RUN = RunContext(run_id="r", experiment="e", compute="c", base_image="i", pip=[])
_JOB = JobFacts(rule="r", wildcards={}, attempt=1, threads=1, resources={}, outputs=(), command="")

OWN_TAGS = {
    "command job": len(job_tags(_RUN, _JOB)),
    "group's pipeline job": len(group_tags(_RUN, _JOB, "g")),
}


def user_tags_allowed() -> int:
    """User tags every job type has room for (Azure ML: at most TAGS_MAX per job)."""
    return TAGS_MAX - max(OWN_TAGS.values())
