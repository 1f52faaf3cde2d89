"""Tool options from the config reach every tool as quoted words (issue 20, item 3). Every
free-text option of the config (read from its schema and config/config.yaml, so a new option
is covered without editing this test) gets a hostile value, and the shell command of every
job of every rule (dry runs that together plan each rule, checked against Snakemake's own
list of rules) must carry it as exactly those words, each quoted: never as shell code."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.fixtures.workflow import ROOT, copy_workflow, snakemake
from tests.workflow.helpers import REFERENCE, pair, sheet

# A quoted pair, a command substitution and a command separator: a shell given this text
# unquoted runs `touch PWNED`.
HOSTILE = "--opt 'two words' $(touch PWNED) ;touch PWNED"
WORDS = shlex.split(HOSTILE)
# Strings that are not tool options: paths (each reaches the shell as one quoted argument;
# test_hostile_input.py runs them under hostile names) and a name checked against the sheet's
# name rule.
NOT_OPTIONS = {"samples", "reads_dir", "reference", "platform"}


def string_options(schema: dict, prefix: str = "") -> Iterator[str]:
    """Dotted keys of the schema's free-text strings (no pattern, enum or format)."""
    for key, spec in schema.get("properties", {}).items():
        name = f"{prefix}{key}"
        if spec.get("type") == "object":
            yield from string_options(spec, f"{name}.")
        elif spec.get("type") == "string" and not {"pattern", "enum", "format"} & set(spec):
            yield name


def string_values(config: dict, prefix: str = "") -> Iterator[str]:
    """Dotted keys of the string values of a config file."""
    for key, value in config.items():
        if isinstance(value, dict):
            yield from string_values(value, f"{prefix}{key}.")
        elif isinstance(value, str):
            yield f"{prefix}{key}"


def free_text_options() -> list[str]:
    schema = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())
    defaults = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    return sorted({*string_options(schema), *string_values(defaults)} - NOT_OPTIONS)


def hostile_config(wf: Path) -> str:
    """config/config.yaml with every free-text option set to HOSTILE, as a --configfile."""
    config = yaml.safe_load((wf / "config" / "config.yaml").read_text())
    for option in free_text_options():
        *parents, leaf = option.split(".")
        node = config
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = HOSTILE
    (wf / "hostile.yaml").write_text(yaml.safe_dump(config))
    return "hostile.yaml"


JOB = re.compile(
    r"^(?:local)?(?:rule|checkpoint) (\w+):\n(?:    .*\n)*?Shell command: (.*(?:\n[ \t]+\S.*)*)",
    re.M,
)


def shell_commands(output: str) -> list[tuple[str, str]]:
    """(rule, shell command) of every job a run with --printshellcmds printed."""
    return JOB.findall(output)


def planned_rules(output: str) -> set[str]:
    return set(re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):$", output, re.M))


def shell_tokens(command: str) -> list[str]:
    """Words as a shell splits them; unquoted ( ) ; | & < > become words of their own."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    return list(lexer)


def quoted_uses(command: str) -> int:
    """How often the command holds WORDS as consecutive words."""
    tokens = shell_tokens(command)
    n = len(WORDS)
    return sum(tokens[i : i + n] == WORDS for i in range(len(tokens) - n + 1))


def listed_rules(wf: Path, *config: str) -> set[str]:
    proc = snakemake(wf, "--list-rules", *config)
    return {line.split()[0] for line in proc.stdout.splitlines() if line[:1].strip()}


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, set[str]]]:
    """The printed dry runs and Snakemake's rule list of three setups that together plan every
    rule: the default, without duplicate marking (samtools_merge), and in shards (the unit
    pairs counted for real first, so the shard jobs are planned too)."""
    wf = copy_workflow(tmp_path_factory.mktemp("options") / "wf")
    (wf / "ref.fa").write_text(REFERENCE)
    rows = [("s1", "1", *pair(wf, "a")), ("s1", "2", *pair(wf, "b")), ("s2", "1", *pair(wf, "c"))]
    base = ["--configfile", hostile_config(wf), "--config", sheet(wf, rows), "reference=ref.fa"]
    setups = [[], ["mark_duplicates=False"], ["split_fastq=2"]]
    pairs = [f"results/shards/{s}/{u}.pairs" for s, u, _, _ in rows]
    counted = snakemake(wf, "--cores", "1", "--printshellcmds", *pairs, *base, "split_fastq=2")
    out = [(counted.stdout + counted.stderr, set())]
    for setup in setups:
        proc = snakemake(wf, "-n", "--printshellcmds", *base, *setup)
        out.append((proc.stdout + proc.stderr, listed_rules(wf, *base, *setup)))
    return out


def test_every_free_text_option_is_covered() -> None:
    """The walk finds the options: at least every tool's extra arguments."""
    options = free_text_options()
    extras = {"bwa_mem.extra", "fastqc.extra", "mosdepth.extra", "multiqc.extra"}
    assert extras <= set(options), options


def test_every_rule_is_planned(plans: list[tuple[str, set[str]]]) -> None:
    """A rule that none of the setups plans would escape the check below: add a setup."""
    listed = set().union(*(rules for _, rules in plans))
    planned = set().union(*(planned_rules(output) for output, _ in plans))
    assert listed - planned == set()


def test_options_reach_every_command_as_quoted_words(
    plans: list[tuple[str, set[str]]],
) -> None:
    taking = set()
    for output, _ in plans:
        for rule, command in shell_commands(output):
            if "PWNED" not in command:
                continue
            taking.add(rule)
            # Every occurrence of the value is the whole value, each word quoted.
            assert command.count("PWNED") == 2 * quoted_uses(command), (rule, command)
    # the rules whose tools take options from the config
    assert {"bwa_mem", "fastqc", "mosdepth", "multiqc"} <= taking


def test_mosdepth_options_never_run_as_shell_code(tmp_path: Path) -> None:
    """The case of the issue, for real: the old rule ran the substitution, writing a file
    outside the working folder, and gave mosdepth its output (`--by 500`)."""
    wf = copy_workflow(tmp_path / "wf")
    (wf / "ref.fa").write_text(REFERENCE)
    config = sheet(wf, [("s1", "1", *pair(wf, "a"))])
    marker = tmp_path / "PWNED"
    extra = f'mosdepth={{extra: "--by $(touch {marker}; echo 500)"}}'
    target = "results/qc/mosdepth/s1.mosdepth.summary.txt"
    proc = snakemake(
        wf, "--cores", "2", target, "--config", config, "reference=ref.fa", extra, check=False
    )
    assert not marker.exists()
    # mosdepth got the words as written and refused them
    assert proc.returncode != 0
    assert not (wf / target).exists()
