"""Built environments: one spec per package, refused when no solver can build them, and the
parallel runtime's packages in parallel steps only (pure, no service)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from rattler import MatchSpec

from aml_bridge.model.environments import PARALLEL_RUNTIME, choose_environment, remote_requirements
from aml_bridge.model.specs.command import build_spec
from aml_bridge.model.specs.pipeline import build_pipeline_spec
from aml_bridge.model.workflow_rules import RuleFacts
from aml_bridge.model.workspace_plan import component, environments, rule_environment
from tests.executor.test_pipeline_spec import GROUPED, group_facts, members
from tests.executor.test_translate import RUN, facts

ROOT = Path(__file__).resolve().parents[2]
BASE = RUN.base_image
PIP = remote_requirements("9.27.1", [])


def env(path: str, text: str, parallel: bool = False):
    return choose_environment(
        aml_environment=None, container_image=None, conda_file=(path, text),
        default_environment=None, base_image=BASE, pip=PIP, parallel=parallel,
    )  # fmt: skip


def conda_names(conda: dict) -> list[str]:
    return [MatchSpec(d).name.normalized for d in conda["dependencies"] if isinstance(d, str)]


def pip_of(conda: dict) -> list[str]:
    return next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))


@pytest.mark.parametrize("name", ["bwa.yaml", "seqkit.yaml"])
def test_a_rules_python_pin_is_kept_and_is_the_only_python(name):
    built = env(f"envs/{name}", (ROOT / "workflow" / "envs" / name).read_text()).conda
    pythons = [d for d in built["dependencies"] if isinstance(d, str) and "python" in d]
    assert pythons == ["conda-forge::python=3.12"]
    assert conda_names(built).count("pip") == 1


def test_a_conda_file_without_python_gets_3_11_and_pip():
    built = env("envs/x.yaml", "dependencies:\n  - bioconda::bwa=0.7.18\n").conda
    assert built["dependencies"][1:3] == ["python=3.11", "pip"]


def test_two_python_pins_are_refused_naming_the_file_and_both():
    text = "dependencies:\n  - conda-forge::python=3.12\n  - python=3.11\n"
    with pytest.raises(ValueError) as e:
        env("envs/bwa.yaml", text)
    assert str(e.value) == (
        "no solver can build the environment: 'conda-forge::python=3.12' and 'python=3.11' "
        "(conda file envs/bwa.yaml) cannot both hold"
    )


def test_a_pip_pin_against_the_remote_snakemake_is_refused():
    text = "dependencies:\n  - python=3.11\n  - pip:\n    - snakemake<9\n"
    with pytest.raises(ValueError, match="'snakemake<9' and 'snakemake==9.27.1'"):
        env("envs/old.yaml", text)


def test_a_python_snakemake_does_not_support_is_refused():
    with pytest.raises(ValueError, match=r"'python=3.9' allows no python snakemake .*>=3\.11"):
        env("envs/old.yaml", "dependencies:\n  - python=3.9\n")


def test_the_parallel_flavour_carries_the_runtime_packages_a_command_job_does_not():
    text = (ROOT / "workflow" / "envs" / "bwa.yaml").read_text()
    command, parallel = env("envs/bwa.yaml", text), env("envs/bwa.yaml", text, parallel=True)
    assert (command.name, parallel.name) == ("env-bwa", "env-bwa-parallel")
    assert parallel.parallel and not command.parallel and command.version != parallel.version
    assert set(PARALLEL_RUNTIME) <= set(pip_of(parallel.conda))
    assert not set(PARALLEL_RUNTIME) & set(pip_of(command.conda))
    job = build_spec(RUN, facts())
    assert job.environment.name == "env-bwa" and not job.environment.parallel


def test_group_steps_and_exported_nodes_run_the_parallel_flavour():
    step = build_pipeline_spec(GROUPED, group_facts(), "bwa_mem", members(2))
    assert step.environment.name == "env-bwa-parallel"
    assert set(PARALLEL_RUNTIME) <= set(pip_of(step.environment.conda))
    text = (ROOT / "workflow" / "envs" / "bwa.yaml").read_text()
    rule = RuleFacts("bwa_mem", "bwa mem ...", ("envs/bwa.yaml", text), 8, 6000, 60)
    comp = component(rule, rule_environment(rule, BASE, PIP), {"bwa_mem"})
    assert comp.spec["task"]["environment"] == env("envs/bwa.yaml", text, True).registered_id


def test_setup_registers_both_flavours_of_every_environment():
    names = [e.name for e in environments(ROOT / "workflow" / "envs", BASE, PIP)]
    stems = [p.stem for p in sorted((ROOT / "workflow" / "envs").glob("*.yaml"))] + ["runtime"]
    assert sorted(names) == sorted(f"env-{s}{f}" for s in stems for f in ("", "-parallel"))
    assert names[-1] == "env-runtime"  # the probe job's, a command job


def test_group_with_a_conflicting_conda_file_is_refused_naming_the_group():
    bad = "dependencies:\n  - python=3.12\n  - python=3.11\n"
    with pytest.raises(ValueError, match="cannot both hold"):
        build_pipeline_spec(
            dataclasses.replace(GROUPED), group_facts(conda_file=("envs/b.yaml", bad)), "g",
            members(1),
        )  # fmt: skip


def test_the_executors_start_check_names_rule_file_and_specs(tmp_path):
    from types import SimpleNamespace

    from aml_bridge.executor.environment_check import environment_problems

    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "bad.yaml").write_text("dependencies:\n  - python=3.12\n  - python=3.11\n")
    (tmp_path / "envs" / "bwa.yaml").write_text(
        (ROOT / "workflow" / "envs" / "bwa.yaml").read_text()
    )

    def rule(name, conda):
        snakefile = str(tmp_path / "Snakefile")
        return SimpleNamespace(
            name=name, conda_env=conda, norun=False, resources={}, container_img=None,
            snakefile=snakefile,
        )  # fmt: skip

    rules = [rule("bwa_mem", "envs/bwa.yaml"), rule("count", "envs/bad.yaml")]
    assert environment_problems(rules, tmp_path, base_image=BASE, pip=PIP, default=None) == [
        "rule count: no solver can build the environment: 'python=3.12' and 'python=3.11' "
        "(conda file envs/bad.yaml) cannot both hold"
    ]
