"""Reading what translation needs off a Snakemake job (single or group), once, on submission."""

from __future__ import annotations

from pathlib import Path

from aml_bridge.model.specs.common import JobFacts


def _conda_file(job) -> tuple[str, str] | None:
    spec = job.conda_env_spec
    if not spec:
        return None
    if not spec.is_file:
        raise ValueError(
            f"rule {job.rule.name}: conda environment {spec.name!r} is a name, not a file; "
            "give the rule a conda file or an aml_environment resource"
        )
    path = str(spec.file.get_path_or_uri(secret_free=True))
    try:
        return path, Path(path).read_text()
    except OSError as e:
        raise ValueError(f"rule {job.rule.name}: cannot read conda file {path}: {e}") from e


def _software(job) -> tuple[str | None, tuple[str, str] | None]:
    """(container image, conda file) of a single job, or of a group whose jobs agree on them."""
    if not job.is_group():
        return job.container_img_url, _conda_file(job)
    choices = {(j.container_img_url, _conda_file(j)) for j in job.jobs}
    if len(choices) > 1:
        raise ValueError(
            f"group {job.groupid}: its rules use different containers or conda files; "
            "give them one aml_environment resource"
        )
    return choices.pop()


def independent_group(job) -> bool:
    """A group job whose members need none of each other's outputs (a parallel step)."""
    if not job.is_group():
        return False
    outputs = {str(f) for member in job.jobs for f in member.output}
    return not any(str(f) in outputs for member in job.jobs for f in member.input)


def job_facts(job, command: str) -> JobFacts:
    """ValueError with the rule's name when the job cannot become an Azure ML job."""
    container, conda = _software(job)
    if job.is_group():
        rule, wildcards = f"group_{job.groupid}", {}
    else:
        rule = job.rule.name
        wildcards = {str(k): str(v) for k, v in job.wildcards_dict.items()}
    resources = {k: v for k, v in job.resources.items() if not k.startswith("_")}
    return JobFacts(
        rule=rule,
        wildcards=wildcards,
        attempt=job.attempt,
        threads=job.threads,
        resources=resources,
        outputs=tuple(str(f) for f in job.output),
        command=command,
        container_image=container,
        conda_file=conda,
        retries=job.restart_times,
    )
