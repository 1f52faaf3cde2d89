"""Whether some version satisfies several version specs at once.

Neither conda nor PEP 440 offers an intersection of version specs, so this searches for a
witness: the intersection of specs built from comparisons, wildcards and exact pins is a union
of intervals whose ends are versions the specs mention. If it is not empty, it holds one of
those versions or a version just beside one (a segment appended: 3.11 → 3.11.0, 3.11.1,
3.11.0.1; a segment bumped up or down: 3.11.9 → 3.11.10, 3.11.8, 3.12, 3.10, 4, 2). Each
candidate is tried against every spec; none satisfying all means no solver can pick a
version. Intervals narrower than these neighbours (>1.0,<1.0.0.1) or made of pre-release tags
only are not searched, so such specs are taken to conflict.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

_LITERAL = re.compile(r"[0-9A-Za-z][0-9A-Za-z_+!.]*")


def mentioned(specs: Iterable[str]) -> set[str]:
    """The version literals in spec texts (">=3.11,<3.13" → 3.11, 3.13; "3.12.*" → 3.12)."""
    return {m.group().rstrip(".") for spec in specs for m in _LITERAL.finditer(spec)}


def _neighbours(literal: str) -> Iterator[str]:
    yield from (literal, f"{literal}.0", f"{literal}.1", f"{literal}.0.1")
    parts = literal.split(".")
    for end in range(1, len(parts) + 1):
        head, last = parts[: end - 1], parts[end - 1]
        if not last.isdigit():
            break
        yield ".".join([*head, str(int(last) + 1)])
        if int(last) > 0:
            yield ".".join([*head, str(int(last) - 1)])


def satisfiable(specs: Iterable[str], tests: Iterable[Callable[[str], bool]]) -> bool:
    """Whether one candidate version (module docstring) passes every test.

    specs: the texts whose versions seed the candidates; tests: one per spec, each taking a
    version string and returning False for versions it rejects or cannot parse.
    """
    tests = list(tests)
    candidates = {c for lit in mentioned(specs) for c in _neighbours(lit)} or {"0"}
    return any(all(test(c) for test in tests) for c in sorted(candidates))
