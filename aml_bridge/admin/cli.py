"""`aml-genomics`: set up and check an Azure ML workspace for this workflow, export the
workflow as one Azure ML pipeline job, and report on a run from its trace.

Exit codes: 0 done / all ✓; 1 a check failed (✗), setup could not do a step, export found
a component not registered or Snakemake failing, or a trace does not follow its format; 2 bad
usage or settings (missing workspace names, a config the workflow rejects, a run with no trace).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from aml_bridge.admin import cli_settings
from aml_bridge.model.environments import remote_requirements

OK, FAILED, USAGE = 0, 1, 2
MARK = {True: "✓", False: "✗"}


class UsageError(Exception):
    """Settings or arguments that cannot work; exit code 2."""


@dataclass
class Context:
    args: argparse.Namespace
    settings: Any  # ExecutorSettings
    prefix: str
    workdir: Path
    profile: Path | None = None  # the profile's config.yaml, when one was read


def _common(parser: argparse.ArgumentParser) -> None:
    cli_settings.add_arguments(parser)
    wf = parser.add_argument_group("workflow")
    wf.add_argument(
        "--snakefile", default="workflow/Snakefile", help="Default: workflow/Snakefile."
    )
    wf.add_argument("--directory", "-d", default=".", help="Working directory (default: .).")
    wf.add_argument(
        "--config", nargs="+", default=[], metavar="KEY=VALUE",
        help="Config overrides, as for snakemake --config (the workflow is loaded to read rules).",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="One JSON document on stdout.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aml-genomics",
        description="Set up and check an Azure ML workspace for this workflow, and export "
        "the workflow as one Azure ML pipeline job (settings as for snakemake --executor aml: "
        "--aml-* flags, SNAKEMAKE_AML_*, the aml profile).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    setup = sub.add_parser(
        "setup", help="Create or update clusters, environments and components (idempotent).",
        description="Create or update what the workflow needs: each cluster (system-assigned "
        "identity, 0..max nodes), one environment per workflow/envs/*.yaml and one parallel "
        "component per rule, versions from content. A second run changes nothing.",
    )  # fmt: skip
    _common(setup)
    setup.add_argument("--dry-run", "-n", action="store_true", help="Print the plan only.")
    setup.add_argument(
        "--build", action="store_true",
        help="Then start one probe job per environment version and cluster without waiting: "
        "Azure ML builds each image now, not at the run's first job; `check` shows each result.",
    )  # fmt: skip
    setup.add_argument(
        "--vm-size",
        help="VM size of new clusters without --cluster (default Standard_D8s_v3: 8 cores, "
        "bwa_mem asks for 8 threads); an existing cluster keeps its size.",
    )  # fmt: skip
    setup.add_argument(
        "--cluster", action="append", default=[], metavar="NAME=VM_SIZE",
        help="VM size of one cluster (repeatable).",
    )  # fmt: skip
    setup.add_argument("--max-nodes", type=int, default=4, help="Nodes per cluster (default 4).")
    setup.add_argument(
        "--idle-seconds", type=int, default=120,
        help="Idle time before a node is released (default 120).",
    )  # fmt: skip
    setup.add_argument(
        "--tier", choices=["dedicated", "low_priority"],
        help="Tier of new clusters (default dedicated); an existing cluster keeps its tier.",
    )  # fmt: skip
    check = sub.add_parser(
        "check", help="Check the workspace: ✓/✗ per item with the fix; exit 1 on any ✗.",
        description="Workspace reachable; clusters exist, fit the rules and have an identity; "
        "the datastore is reachable from here; environments and components are registered; a "
        "probe job per cluster reads and writes the datastore as the cluster's identity.",
    )  # fmt: skip
    _common(check)
    check.add_argument("--no-probe", action="store_true", help="Skip the probe jobs.")
    check.add_argument(
        "--probe-timeout", type=float, default=900.0,
        help="Seconds to wait for each probe job (default 900: a node may have to start).",
    )  # fmt: skip
    export = sub.add_parser(
        "export", help="Write the workflow's DAG as one Azure ML pipeline job YAML.",
        description="The jobs Snakemake would run for the config, as one pipeline job: a "
        "parallel node per rule referencing the rule's registered component (run setup "
        "first), ordered by data bindings. The jobs' manifests, the sources and the storage "
        "plugin are uploaded to the default storage; submit with "
        "`az ml job create --file pipeline.yml` (no Snakemake needed then).",
    )  # fmt: skip
    _common(export)
    export.add_argument(
        "targets", nargs="*", metavar="TARGET",
        help="Files or rules to export, as for snakemake (default: the workflow's default "
        "target). Put them before --config.",
    )  # fmt: skip
    export.add_argument(
        "--output", "-o", default="pipeline.yml", help="YAML file to write (default pipeline.yml)."
    )
    export.add_argument(
        "--allow-reuse", action="store_true",
        help="Let Azure ML reuse completed nodes of an earlier submission with the same inputs "
        "(settings.force_rerun false); by default every exported job runs.",
    )  # fmt: skip
    report = sub.add_parser(
        "report", help="A run's HTML page (timeline, cost per rule and sample) from its trace.",
        description="One self-contained HTML page from a run's trace (.snakemake/aml/trace/): "
        "a timeline of every job attempt, node-hours and estimated cost per rule and per "
        "sample, the slowest jobs, failed and preempted attempts. Needs no workspace.",
    )  # fmt: skip
    report.add_argument(
        "run", nargs="?", metavar="RUN",
        help="A run id or a trace file (default: the newest trace in .snakemake/aml/trace/).",
    )  # fmt: skip
    report.add_argument("--directory", "-d", default=".", help="Working directory (default: .).")
    report.add_argument(
        "--output", "-o", type=Path,
        help="HTML file to write (default: .snakemake/aml/report/<run id>.html).",
    )  # fmt: skip
    report.add_argument(
        "--multiqc", type=Path, metavar="FILE_mqc.tsv",
        help="Also write the cost per sample as a MultiQC custom-content table.",
    )  # fmt: skip
    return parser


def cmd_report(args: argparse.Namespace, out) -> int:
    from aml_bridge.admin.report_command import ReportUsageError, find_trace, write_report
    from aml_bridge.model.trace_read import TraceError

    workdir = Path(args.directory)
    try:
        trace = find_trace(args.run, workdir)
        page, attempts = write_report(trace, args.output, workdir, args.multiqc)
    except ReportUsageError as e:
        raise UsageError(str(e)) from None
    except TraceError as e:
        print(f"aml-genomics report: {e}", file=sys.stderr)
        return FAILED
    print(f"Wrote {page} ({attempts} attempts of run {trace.stem}, from {trace})", file=out)
    if args.multiqc:
        print(f"Wrote {args.multiqc} (MultiQC custom content: cost per sample)", file=out)
    return OK


def _config(items: list[str]) -> dict[str, Any]:
    import yaml

    config = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--config {item!r} is not KEY=VALUE")
        config[key] = yaml.safe_load(value) if value else value
    return config


def _context(args: argparse.Namespace) -> Context:
    from snakemake_interface_common.exceptions import WorkflowError

    from aml_bridge.model.settings import validate

    workdir = Path(args.directory).resolve()
    settings, prefix, profile = cli_settings.read(args, os.environ, workdir)
    try:
        validate(settings)
    except WorkflowError as e:
        raise UsageError(str(e)) from None
    return Context(args, settings, prefix, workdir, profile)


def _wanted(ctx: Context):
    """(environments, components, rules, runtime environment) the workflow needs."""
    from aml_bridge.model.workflow_rules import load_rules
    from aml_bridge.model.workspace_plan import component, environments, rule_environment

    s = ctx.settings
    pip = remote_requirements(version("snakemake"), s.remote_pip or [])
    config = _config(ctx.args.config)
    try:
        rules = load_rules(ctx.workdir / ctx.args.snakefile, ctx.workdir, config)
    except Exception as e:  # the workflow's own error (sheet, reference, syntax)
        raise UsageError(f"cannot load the workflow: {e}") from None
    names = {r.name for r in rules}
    comps = []
    for r in rules:  # a conda file no solver can build: nothing registered, nothing exported
        try:
            comps.append(component(r, rule_environment(r, s.base_image, pip), names))
        except ValueError as e:
            raise UsageError(f"rule {r.name}: {e}") from None
    try:
        envs = environments(ctx.workdir / "workflow" / "envs", s.base_image, pip)
    except ValueError as e:
        raise UsageError(str(e)) from None
    return envs, comps, rules, envs[-1]


def _clusters(ctx: Context):
    """The profile's clusters as setup's flags describe them."""
    from aml_bridge.model.settings import cluster_names
    from aml_bridge.model.workspace_plan import ClusterWanted

    sizes = {}
    for item in ctx.args.cluster:
        name, sep, size = item.partition("=")
        if not sep or not name or not size:
            raise UsageError(f"--cluster {item!r} is not NAME=VM_SIZE")
        sizes[name] = size
    a = ctx.args
    return [
        ClusterWanted(name, sizes.get(name, a.vm_size), a.max_nodes, 0, a.idle_seconds, a.tier)
        for name in cluster_names(ctx.settings)
    ]


def _admin(ctx: Context):
    from aml_bridge.gateway.client import AmlClient
    from aml_bridge.gateway.workspace_admin import WorkspaceAdmin

    return WorkspaceAdmin(AmlClient(ctx.settings))


def cmd_setup(ctx: Context, out) -> int:
    from aml_bridge.admin.workspace_setup import (
        CONFLICT,
        CREATE,
        UNCHANGED,
        UPDATE,
        apply,
        plan,
        role_assignment,
    )

    clusters = _clusters(ctx)
    wanted = _wanted(ctx)
    envs, comps, _, _ = wanted
    admin = _admin(ctx)
    steps = plan(admin, clusters, envs, comps)
    changes = [s for s in steps if s.action in (CREATE, UPDATE)]
    conflicts = [s for s in steps if s.action == CONFLICT]
    builds = []
    if not ctx.args.dry_run and not conflicts:
        apply(admin, steps)
        if ctx.args.build:
            from aml_bridge.admin.workspace_check import start_builds

            builds = start_builds(admin, _check_inputs(ctx, wanted=wanted))
    grants = []
    if not ctx.args.dry_run:
        account = getattr(admin.workspace(), "storage_account", None) or "<storage account id>"
        for c in clusters:
            found = admin.cluster(c.name)
            if found and found.principal_id:
                grants.append(role_assignment(found.principal_id, account))
    if ctx.args.json:
        doc = {
            "dry_run": ctx.args.dry_run, "changed": bool(changes) and not ctx.args.dry_run
            and not conflicts, "steps": [s.as_dict() for s in steps], "role_assignments": grants,
            "builds": [{"check": t.check, "rules": list(t.rules), "job": job} for t, job in builds],
        }  # fmt: skip
        print(json.dumps(doc, indent=2), file=out)
    else:
        verb = {CREATE: "create", UPDATE: "update", UNCHANGED: "ok", CONFLICT: "CONFLICT"}
        if ctx.args.dry_run:
            verb |= {CREATE: "would create", UPDATE: "would update"}
        width = max(len(f"{s.kind} {s.name}") for s in steps)
        for s in steps:
            print(f"  {verb[s.action]:<13} {f'{s.kind} {s.name}':<{width}}  {s.detail}", file=out)
        if conflicts:
            print(f"\n{len(conflicts)} conflict(s): nothing was changed.", file=out)
        elif not changes:
            print("\nNothing to change: the workspace has everything.", file=out)
        elif ctx.args.dry_run:
            print(f"\n{len(changes)} change(s) planned (dry run: nothing changed).", file=out)
        else:
            print(f"\n{len(changes)} change(s) made.", file=out)
        if builds:
            print(f"\nStarted {len(builds)} image build(s) (probe jobs; `aml-genomics check` "
                  "shows each result):", file=out)  # fmt: skip
            for target, job in builds:
                print(f"  {target.check}: job {job}", file=out)
        if grants:
            print(
                "\nIf you may not assign roles yourself, ask an owner of the storage account "
                "to run (the clusters' identities need it to read and write the datastore):",
                file=out,
            )
            for grant in grants:
                print(f"  {grant}", file=out)
    return FAILED if conflicts else OK


def _check_inputs(ctx: Context, probe: bool = True, wanted=None):
    """What check (or setup --build) probes; `wanted`: _wanted(ctx) when the caller has it."""
    from aml_bridge.admin.workspace_check import CheckInputs
    from aml_bridge.model.settings import cluster_names
    from aml_bridge.model.workspace_plan import rule_environment
    from snakemake_storage_plugin_azureml.query import parse_query

    envs, comps, rules, _ = wanted or _wanted(ctx)
    s = ctx.settings
    pip = remote_requirements(version("snakemake"), s.remote_pip or [])
    uses = [
        (r.name, rule_environment(r, s.base_image, pip, parallel=parallel), _env_label(r))
        for r in rules
        for parallel in (False, True)
    ]
    return CheckInputs(
        cluster_names=cluster_names(s), datastore=parse_query(ctx.prefix).datastore,
        prefix=ctx.prefix, rules=rules, environments=envs, components=comps, uses=uses,
        probe_timeout_s=getattr(ctx.args, "probe_timeout", 900.0), probe=probe,
    )  # fmt: skip


def _env_label(rule) -> str:
    if rule.aml_environment:
        return f"environment {rule.aml_environment}"
    return f"conda file {rule.conda_file[0]}" if rule.conda_file else "the runtime environment"


def cmd_check(ctx: Context, out) -> int:
    from aml_bridge.admin.workspace_check import run_checks

    inputs = _check_inputs(ctx, probe=not ctx.args.no_probe)
    rows = []
    for row in run_checks(_admin(ctx), inputs):
        rows.append(row)
        if not ctx.args.json:
            print(f"  {MARK[row.ok]} {row.check}: {row.detail}", file=out, flush=True)
            if not row.ok and row.fix:
                print(f"      fix: {row.fix}", file=out, flush=True)
    failed = [r for r in rows if not r.ok]
    if ctx.args.json:
        print(json.dumps({"ok": not failed, "checks": [r.as_dict() for r in rows]}, indent=2),
              file=out)  # fmt: skip
    else:
        print(f"\n{len(rows) - len(failed)} ✓, {len(failed)} ✗", file=out)
    return FAILED if failed else OK


def cmd_export(ctx: Context, out) -> int:
    import yaml

    from aml_bridge.model.export import ExportedRun, pipeline_yaml

    _, comps, _, _ = _wanted(ctx)
    admin = _admin(ctx)
    missing = [c for c in comps if not admin.client.has_component(c)]
    if missing:
        names = ", ".join(f"{c.name}:{c.version} (rule {c.rule})" for c in missing)
        print(f"aml-genomics export: not registered: {names}; run aml-genomics setup "
              "first", file=sys.stderr)  # fmt: skip
        return FAILED
    with tempfile.TemporaryDirectory() as tmp:
        recorded = Path(tmp, "jobs.json")
        # MLClient exported the cloud it registered in this process: in the child, the SDK
        # would look up a cloud it does not know
        env = {k: v for k, v in os.environ.items() if k != "AZUREML_CURRENT_CLOUD"}
        args = _snakemake_export_args(ctx, recorded)
        proc = subprocess.run(args, cwd=ctx.workdir, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"aml-genomics export: snakemake failed:\n{proc.stderr[-4000:]}", file=sys.stderr)
            return FAILED
        if not recorded.exists():
            print("Nothing to export: every output is up to date.", file=out)
            return OK
        run = ExportedRun.from_json(recorded.read_text())
    doc = pipeline_yaml(run, {c.rule: c.reference for c in comps}, ctx.args.allow_reuse)
    target = Path(ctx.args.output)
    target.write_text(yaml.safe_dump(doc, sort_keys=False))
    if ctx.args.json:
        print(json.dumps(doc, indent=2), file=out)
        return OK
    for node in doc["jobs"].values():
        after = [k.removeprefix("after_") for k in node["inputs"] if k.startswith("after_")]
        print(f"  {node['display_name']:<24} {node['component']}  on {node['compute']}"
              + (f"  after {', '.join(after)}" if after else ""), file=out)  # fmt: skip
    print(f"\nWrote {target} ({doc['display_name']}). Submit it with:\n"
          f"  az ml job create --file {target}", file=out)  # fmt: skip
    return OK


def _snakemake_export_args(ctx: Context, recorded: Path) -> list[str]:
    """Snakemake in the executor's export mode, with this command's settings as flags."""
    args = [
        sys.executable, "-m", "snakemake", *ctx.args.targets, "--snakefile", ctx.args.snakefile,
        "--executor", "aml", "--immediate-submit", "--notemp",
        "--aml-export-jobs", str(recorded),
        "--default-storage-provider", "azureml", "--default-storage-prefix", ctx.prefix,
    ]  # fmt: skip
    if ctx.profile:
        args += ["--profile", str(ctx.profile.parent.resolve())]
    for name in cli_settings.USED:
        value = getattr(ctx.settings, name)
        if value:
            flag = "--aml-" + name.replace("_", "-")
            args += [flag, *value] if isinstance(value, list) else [flag, str(value)]
    if ctx.args.config:
        args += ["--config", *ctx.args.config]
    return args


COMMANDS = {"setup": cmd_setup, "check": cmd_check, "export": cmd_export}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "report":  # a file in, a file out: no workspace settings
            return cmd_report(args, sys.stdout)
        ctx = _context(args)
        return COMMANDS[args.command](ctx, sys.stdout)
    except UsageError as e:
        print(f"aml-genomics {args.command}: {e}", file=sys.stderr)
        return USAGE
    except Exception as e:  # the workspace's answer, with its message, not a traceback
        print(f"aml-genomics {args.command}: {type(e).__name__}: {e}", file=sys.stderr)
        return FAILED


if __name__ == "__main__":
    sys.exit(main())
