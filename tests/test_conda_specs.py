"""conda_specs: which conda files no solver can build, and why (pure, no service)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conda_specs import conda_problems, conda_specs, pip_requirements, spec_meets

ENVS = Path(__file__).resolve().parents[1] / "workflow" / "envs"


@pytest.mark.parametrize("path", sorted(ENVS.glob("*.yaml")), ids=lambda p: p.name)
def test_the_workflows_conda_files_have_no_problems(path):
    assert conda_problems(yaml.safe_load(path.read_text()), f"conda file {path.name}") == []


def test_two_python_pins_are_refused_naming_both_and_the_file():
    conda = {"dependencies": ["conda-forge::python=3.12", "bioconda::bwa=0.7.18", "python=3.11"]}
    assert conda_problems(conda, "conda file envs/bwa.yaml") == [
        "no solver can build the environment: 'conda-forge::python=3.12' and 'python=3.11' "
        "(conda file envs/bwa.yaml) cannot both hold"
    ]


@pytest.mark.parametrize(
    "a, b",
    [
        ("python>=3.11,<3.12", "python=3.12"),
        ("samtools 1.20.*", "samtools<1.20"),
        ("bwa=0.7.18=h1_0", "bwa=0.7.18=h2_0"),  # two exact builds
        ("bwa=0.7.18=py*", "bwa=0.7.18=h2_0"),  # a build glob the exact build misses
        ("conda-forge::zlib", "bioconda::zlib"),  # a package comes from one channel
        ("Numpy=2", "numpy=1"),  # names are normalised
    ],
)
def test_conda_specs_that_cannot_both_hold_are_refused(a, b):
    assert conda_problems({"dependencies": [a, b]}, "conda file x.yaml") == [
        f"no solver can build the environment: {a!r} and {b!r} (conda file x.yaml) cannot both hold"
    ]


@pytest.mark.parametrize(
    "a, b",
    [
        ("python>=3.11,<3.13", "conda-forge::python=3.12"),
        ("python", "python=3.11"),
        ("samtools 1.20.*", "samtools>1.20.0"),
        ("samtools<1.21", "samtools>1.20"),  # 1.20.1 holds both
        ("bwa=0.7.18=h*", "bwa=0.7.18=he4a0461_1"),
        ("openssl>=3", "openssl!=3.0.0"),
    ],
)
def test_conda_specs_that_can_both_hold_pass(a, b):
    assert conda_problems({"dependencies": [a, b]}, "conda file x.yaml") == []


def test_pip_pins_that_cannot_both_hold_are_refused():
    conda = {
        "dependencies": [
            "python=3.11",
            {"pip": ["snakemake==9.27.1", "Snakemake<9", "azure_core>=1", "azure-core", "x"]},
        ]
    }
    assert conda_problems(conda, "conda file y.yaml") == [
        "no solver can build the environment: 'snakemake==9.27.1' and 'Snakemake<9' "
        "(conda file y.yaml) cannot both hold"
    ]


def test_pip_pins_under_different_markers_are_not_compared():
    conda = {"dependencies": [{"pip": ["a==1; python_version < '3'", "a==2", "--index-url x"]}]}
    assert conda_problems(conda, "conda file y.yaml") == []


def test_a_spec_allowing_no_version_is_refused():
    conda = {"dependencies": ["numpy>=2,<1", {"pip": ["pandas>3,<2"]}]}
    assert conda_problems(conda, "conda file z.yaml") == [
        "no solver can build the environment: 'numpy>=2,<1' (conda file z.yaml) allows no version",
        "no solver can build the environment: 'pandas>3,<2' (conda file z.yaml) allows no version",
    ]


def test_unreadable_entries_are_named():
    conda = {"dependencies": ["*", 3, {"pip": ["bad req ((", 7]}]}
    problems = conda_problems(conda, "conda file w.yaml")
    assert [p.split(" is ")[0] for p in problems] == [
        "conda file w.yaml: '*'",
        "conda file w.yaml: dependency 3",
        "conda file w.yaml: pip entry 'bad req (('",
        "conda file w.yaml: pip entry 7",
    ]


def test_specs_are_read_by_normalised_name_with_the_channel_apart():
    conda = {"dependencies": ["conda-forge::Python=3.12", "pip", {"pip": ["snakemake==9.27.1"]}]}
    assert conda_specs(conda) == {"python": ["conda-forge::Python=3.12"], "pip": ["pip"]}
    assert pip_requirements(conda) == ["snakemake==9.27.1"]


@pytest.mark.parametrize(
    "spec, requires, meets",
    [
        ("conda-forge::python=3.12", ">=3.11", True),
        ("python=3.10", ">=3.11", False),
        ("python<3.11.0", ">=3.11", False),
        ("python", ">=3.11", True),
        ("python>=3.8", ">=3.11", True),
    ],
)
def test_spec_meets_a_requires_python(spec, requires, meets):
    assert spec_meets(spec, requires) is meets
