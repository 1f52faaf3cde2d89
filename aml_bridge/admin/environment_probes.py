"""Probe jobs of `aml-genomics check`: one per environment version and cluster the rules use,
proving what a run's first job would find out the hard way.

A probe runs in the environment a rule's jobs run in, on the cluster they go to: command jobs
in a command job, the parallel flavour (group steps, exported nodes) as one item of a parallel
step through the executor's own entry script. Its script prints one `PROBE ok|failed <what>:
<detail>` line per fact: python, `python -m snakemake --version` as the run calls it, the
storage plugin writing and reading a blob as the cluster's identity, each tool of the
environment answering its version command, (parallel flavour) the parallel runtime's
packages, and whether the node offers the storage plugin's node cache a place (Azure Batch's
AZ_BATCH_NODE_SHARED_DIR, which Azure ML does not document inside a job: a fact, never a
failure). A job that never runs its script (image build failed) is reported by its status.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement, Requirement

from aml_bridge.gateway.status import Outcome, outcome
from aml_bridge.model.environments import EnvironmentSpec
from conda_specs import conda_specs, pip_requirements

PROBE_MARK = "PROBE "
# tool → a command that prints its version and exits 0 (bwa prints it in its usage, exit 1)
VERSION_COMMANDS = {
    "bwa": "bwa 2>&1 | grep -m1 '^Version' || bwa",
    "samtools": "samtools --version | head -n 1",
    "fastqc": "fastqc --version",
    "mosdepth": "mosdepth --version",
    "seqkit": "seqkit version",
    "multiqc": "multiqc --version",
}
# found, not imported: fusepy loads libfuse at import, which a node has and a laptop may not
PARALLEL_MODULES = ("azureml.core", "azureml.dataprep", "fuse")
PARALLEL_CHECK = f"""
import importlib.util, sys
def found(name):
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:  # its parent package is missing
        return False
gone = [m for m in {PARALLEL_MODULES!r} if not found(m)]
sys.exit("missing modules: " + ", ".join(gone)) if gone else print("found", *{PARALLEL_MODULES!r})
"""

# always exits 0: without the folder, inputs are downloaded per job as before
NODE_CACHE_CHECK = """d="${AZ_BATCH_NODE_SHARED_DIR:-}"
if [ -z "$d" ]; then echo "no AZ_BATCH_NODE_SHARED_DIR: inputs downloaded per job"
elif [ -d "$d" ] && [ -w "$d" ]; then
  echo "AZ_BATCH_NODE_SHARED_DIR $d writable: inputs cached per node"
else echo "AZ_BATCH_NODE_SHARED_DIR $d not writable: inputs downloaded per job"; fi"""


@dataclass(frozen=True)
class ProbeTarget:
    environment: EnvironmentSpec
    cluster: str
    rules: tuple[str, ...]
    label: str  # the conda file, or what the environment is

    @property
    def parallel(self) -> bool:
        return self.environment.parallel

    @property
    def check(self) -> str:
        kind = "parallel step" if self.parallel else "command job"
        env = self.environment.registered_id.removeprefix("azureml:")
        return f"probe {env} ({kind} on {self.cluster})"

    def tools(self) -> list[str]:
        """The environment's tools with a version command, from its conda file."""
        conda = self.environment.conda or {}
        names = set(conda_specs(conda)) | set(_pip_names(pip_requirements(conda)))
        return [t for t in VERSION_COMMANDS if t in names]


@dataclass(frozen=True)
class ProbeLine:
    what: str
    ok: bool
    detail: str


@dataclass
class ProbeOutcome:
    ok: bool
    detail: str
    failed: list[ProbeLine] = field(default_factory=list)


def probe_targets(
    uses: list[tuple[str, EnvironmentSpec, str]], where: dict[str, str]
) -> list[ProbeTarget]:
    """One target per (environment version, cluster): `uses` holds (rule, environment, label),
    `where` rule → cluster; rules sharing both share the probe."""
    grouped: dict[tuple[str, str], list[str]] = {}
    envs: dict[str, tuple[EnvironmentSpec, str]] = {}
    for rule, env, label in sorted(uses, key=lambda u: u[0]):
        envs[env.registered_id] = (env, label)
        rules = grouped.setdefault((env.registered_id, where[rule]), [])
        if rule not in rules:
            rules.append(rule)
    return [
        ProbeTarget(envs[env_id][0], cluster, tuple(rules), envs[env_id][1])
        for (env_id, cluster), rules in grouped.items()
    ]


def probe_script(target: ProbeTarget, datastore: str, blob_path: str) -> str:
    """The bash the probe runs (no value from outside the workflow reaches it unquoted)."""
    lines = [
        "probe() {  # what, command: one PROBE line with the command's first or last words",
        '  out=$(bash -c "$2" 2>&1); code=$?',
        '  if [ "$code" -eq 0 ]; then',
        '    echo "PROBE ok $1: $(printf "%s\\n" "$out" | grep -m1 . )"',
        "  else",
        '    last=$(printf "%s\\n" "$out" | tail -n 3 | tr "\\n" " ")',
        '    echo "PROBE failed $1: exit $code: $last"',
        "  fi",
        "}",
        "probe python 'python --version'",
        "probe snakemake 'python -m snakemake --version'",
        "probe storage "
        + shlex.quote(
            "python -m snakemake_storage_plugin_azureml.probe "
            f"{shlex.quote(datastore)} {shlex.quote(blob_path)}"
        ),
    ]
    if target.parallel:
        check = f"python -c {shlex.quote(PARALLEL_CHECK)}"
        lines.append(f"probe parallel-runtime {shlex.quote(check)}")
    lines += [f"probe {tool} {shlex.quote(VERSION_COMMANDS[tool])}" for tool in target.tools()]
    lines.append(f"probe node-cache {shlex.quote(NODE_CACHE_CHECK)}")
    return "\n".join(lines) + "\n"


def read_probe(output: str) -> list[ProbeLine]:
    found = []
    for line in output.splitlines():
        m = re.match(r"PROBE (ok|failed) ([\w-]+): ?(.*)$", line.strip())
        if m:
            found.append(ProbeLine(m[2], m[1] == "ok", m[3].strip()))
    return found


def judge(target: ProbeTarget, status: str, error: str, output: str) -> ProbeOutcome:
    """The probe's row: ✓ with the versions found, or ✗ with every fact that failed."""
    lines = read_probe(output)
    expected = {"python", "snakemake", "storage", *target.tools()}
    if target.parallel:
        expected.add("parallel-runtime")
    seen = {line.what for line in lines}
    failed = [line for line in lines if not line.ok]
    if outcome(status) is Outcome.SUCCEEDED and not failed and expected <= seen:
        versions = [_fact(line) for line in lines]
        return ProbeOutcome(True, ", ".join(versions))
    if not lines:
        reason = error or "the probe printed nothing"
        return ProbeOutcome(False, f"{status}: {reason}")
    missing = sorted(expected - seen)
    reasons = [f"{line.what}: {line.detail}" for line in failed]
    reasons += [f"{what}: not reached" for what in missing]
    return ProbeOutcome(False, f"{status}: " + "; ".join(reasons), failed)


def fix(target: ProbeTarget, outcome: ProbeOutcome) -> str:
    whats = {line.what for line in outcome.failed}
    rules = ", ".join(target.rules)
    if whats == {"storage"}:
        return "grant the cluster identity Storage Blob Data Contributor (see the identity row)"
    if "parallel-runtime" in whats:
        return (
            f"{target.label} (rules {rules}): a parallel step needs azureml-core and "
            "azureml-dataset-runtime[fuse] in its environment"
        )
    return f"fix {target.label} (rules {rules}), then `aml-genomics setup` and check again"


def _pip_names(entries: list[str]) -> list[str]:
    names = []
    for entry in entries:
        try:
            names.append(Requirement(entry).name.lower())
        except InvalidRequirement:  # options and references: no tool name to probe
            continue
    return names


def _fact(line: ProbeLine) -> str:
    if line.what == "storage":
        return "storage written and read as the cluster identity"
    if line.what == "parallel-runtime":
        return "parallel runtime packages"
    if line.what == "node-cache":
        return line.detail
    m = re.search(r"\d+(\.\d+)+\S*", line.detail)
    return f"{line.what} {m[0] if m else line.detail[:40]}"
