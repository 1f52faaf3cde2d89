"""Choosing an instance type from a job's threads and memory, by a table in the profile."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InstanceType:
    name: str
    cores: int
    mem_mb: int


def parse_instance_table(entries: list[str]) -> list[InstanceType]:
    """Entries NAME:CORES:MEM_MB, smallest first (by cores, then memory)."""
    table = []
    for entry in entries:
        parts = entry.split(":")
        if len(parts) != 3 or not parts[0] or not parts[1].isdigit() or not parts[2].isdigit():
            raise ValueError(f"entry {entry!r} is not NAME:CORES:MEM_MB")
        table.append(InstanceType(parts[0], int(parts[1]), int(parts[2])))
    return sorted(table, key=lambda t: (t.cores, t.mem_mb))


def choose_instance_type(
    table: list[InstanceType], threads: int, mem_mb: int | None, label: str
) -> str | None:
    """The smallest type with enough cores and memory; None without a table.

    A job bigger than every type is an error naming it (label): it could never be scheduled.
    """
    if not table:
        return None
    for candidate in table:
        if candidate.cores >= threads and candidate.mem_mb >= (mem_mb or 0):
            return candidate.name
    largest = max(table, key=lambda t: (t.cores, t.mem_mb))
    raise ValueError(
        f"{label} needs {threads} threads and {mem_mb} MB, more than any instance type in "
        f"--aml-instance-types (largest: {largest.name} with {largest.cores} cores, "
        f"{largest.mem_mb} MB)"
    )
