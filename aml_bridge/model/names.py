"""Names and tags that Azure ML accepts, kept readable and unique.

Azure ML's limits (REST specs and `resource-limits-capacity.md`): job, environment and component
names match NAME (no dots), display names are at most 256 characters, a job has at most 50 tags
with keys of at most 100 and values of at most 1000 characters, experiment names are at most 256
ASCII characters. Too long becomes a readable head plus a hash of the whole, so distinct inputs
stay distinct.
"""

from __future__ import annotations

import hashlib
import re

NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$")
NAME_MAX = 255
DISPLAY_NAME_MAX = 256
EXPERIMENT_MAX = 256
TAGS_MAX = 50
TAG_KEY_MAX = 100
TAG_VALUE_MAX = 1000
HASH_CHARS = 10


def shorten(text: str, limit: int) -> str:
    """text itself when short enough, else its head, '-' and a hash of all of it."""
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:HASH_CHARS]
    return f"{text[: limit - HASH_CHARS - 1]}-{digest}"


def azure_name(raw: str, fallback: str) -> str:
    """raw as a valid job/environment/component name: other characters (dots too) become '-',
    leading '-'/'_' go, too long is shortened; fallback when nothing is left."""
    name = re.sub(r"[^A-Za-z0-9_-]", "-", raw).lstrip("-_") or fallback
    return shorten(name, NAME_MAX)


def experiment_name(folder: str) -> str:
    """A folder's name as an experiment name: ASCII letters, digits, _ - . and not too long."""
    name = re.sub(r"[^A-Za-z0-9_\-.]", "_", folder).lstrip("_-.") or "snakemake"
    return shorten(name, EXPERIMENT_MAX)
