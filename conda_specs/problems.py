"""A conda file's specs, read as conda match specs and PEP 508 requirements, and their conflicts.

Two specs of one package conflict when they name different channels, different exact builds,
or versions no single version satisfies (conda_specs.versions). Conda specs are compared with
conda specs (names normalised, channel read apart from the name), pip requirements with pip
requirements (names canonicalised, markers alike): pip installs after conda and may replace a
conda package, which builds.
"""

from __future__ import annotations

from collections import defaultdict
from fnmatch import fnmatchcase
from itertools import combinations

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion
from rattler import MatchSpec, Version, VersionSpec

from conda_specs.versions import satisfiable


def _conda_test(version_spec: str):
    spec = VersionSpec(version_spec)

    def test(version: str) -> bool:
        try:
            return spec.matches(Version(version))
        except Exception:  # rattler raises its own error types for unparsable versions
            return False

    return test


def _pip_test(specifier: SpecifierSet):
    def test(version: str) -> bool:
        try:
            return specifier.contains(version, prereleases=True)
        except InvalidVersion:
            return False

    return test


def _entries(conda: dict) -> tuple[list, list]:
    """(conda section entries, pip section entries) as written."""
    deps = conda.get("dependencies") or []
    if not isinstance(deps, list):
        return [deps], []
    pip = [e for d in deps if isinstance(d, dict) and "pip" in d for e in (d["pip"] or [])]
    return [d for d in deps if not (isinstance(d, dict) and "pip" in d)], pip


def _is_pip_option_or_reference(entry: str) -> bool:
    """Lines pip takes as they are (options, URLs, paths): not requirements to compare."""
    return entry.startswith(("-", ".", "/")) or ("://" in entry and "@" not in entry)


def conda_specs(conda: dict) -> dict[str, list[str]]:
    """The conda section's readable specs by normalised package name (channel stripped)."""
    specs: dict[str, list[str]] = defaultdict(list)
    for entry in _entries(conda)[0]:
        if isinstance(entry, str):
            try:
                specs[MatchSpec(entry).name.normalized].append(entry)
            except Exception:  # reported by conda_problems
                continue
    return dict(specs)


def pip_requirements(conda: dict) -> list[str]:
    """The pip section's entries as written."""
    return [e for e in _entries(conda)[1] if isinstance(e, str)]


def spec_meets(conda_spec: str, specifier: str) -> bool:
    """Whether some version the conda spec allows satisfies a PEP 440 specifier set
    (a python pin against a package's Requires-Python)."""
    version = MatchSpec(conda_spec).version
    tests = [_pip_test(SpecifierSet(specifier))]
    if version:
        tests.append(_conda_test(version))
    return satisfiable([version or "", specifier], tests)


def _conda_conflict(a: MatchSpec, b: MatchSpec) -> bool:
    if a.channel and b.channel and a.channel.name != b.channel.name:
        return True
    if a.build and b.build:
        globs = [x for x in (a.build, b.build) if any(c in x for c in "*?[")]
        if not globs and a.build != b.build:
            return True
        if len(globs) == 1:
            exact = b.build if globs[0] == a.build else a.build
            if not fnmatchcase(exact, globs[0]):
                return True
    versions = [v for v in (a.version, b.version) if v]
    return not satisfiable(versions, [_conda_test(v) for v in versions])


def _pip_conflict(a: Requirement, b: Requirement) -> bool:
    if a.url or b.url:
        return bool(a.url and b.url and a.url != b.url)
    specs = [str(a.specifier), str(b.specifier)]
    return not satisfiable(specs, [_pip_test(a.specifier), _pip_test(b.specifier)])


def conda_problems(conda: dict, label: str) -> list[str]:
    """Every reason the conda file cannot be built: unreadable entries, a spec that allows no
    version, two specs of one package that cannot both hold. label names the file in the
    messages (e.g. "conda file workflow/envs/bwa.yaml"); empty when nothing is wrong."""
    problems: list[str] = []
    conda_entries, pip_entries = _entries(conda)
    by_name: dict[str, list[tuple[str, MatchSpec]]] = defaultdict(list)
    for entry in conda_entries:
        if not isinstance(entry, str):
            problems.append(f"{label}: dependency {entry!r} is neither a spec nor a pip list")
            continue
        try:
            spec = MatchSpec(entry)
        except Exception as e:  # rattler's InvalidMatchSpecError and friends
            problems.append(f"{label}: {entry!r} is not a conda match spec: {e}")
            continue
        by_name[spec.name.normalized].append((entry, spec))
    pip_by_name: dict[tuple[str, str], list[tuple[str, Requirement]]] = defaultdict(list)
    for entry in pip_entries:
        if not isinstance(entry, str):
            problems.append(f"{label}: pip entry {entry!r} is not a requirement string")
            continue
        if _is_pip_option_or_reference(entry):
            continue
        try:
            req = Requirement(entry)
        except InvalidRequirement as e:
            problems.append(
                f"{label}: pip entry {entry!r} is not a requirement: {str(e).splitlines()[0]}"
            )
            continue
        pip_by_name[(canonicalize_name(req.name), str(req.marker or ""))].append((entry, req))

    def refuse(a: str, b: str) -> None:
        problems.append(
            f"no solver can build the environment: {a!r} and {b!r} ({label}) cannot both hold"
        )

    def empty(entry: str) -> None:
        problems.append(
            f"no solver can build the environment: {entry!r} ({label}) allows no version"
        )

    for specs in by_name.values():
        for entry, spec in specs:
            if spec.version and not satisfiable([spec.version], [_conda_test(spec.version)]):
                empty(entry)
        for (ea, a), (eb, b) in combinations(specs, 2):
            if ea != eb and _conda_conflict(a, b):
                refuse(ea, eb)
    for reqs in pip_by_name.values():
        for entry, req in reqs:
            if not req.url and not satisfiable([str(req.specifier)], [_pip_test(req.specifier)]):
                empty(entry)
        for (ea, a), (eb, b) in combinations(reqs, 2):
            if ea != eb and _pip_conflict(a, b):
                refuse(ea, eb)
    return problems
