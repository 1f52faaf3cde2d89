"""Request bodies checked against the SDK's own REST models (azure.ai.ml._restclient).

The generated models accept any mapping, so this walks their field declarations instead:
a field whose annotation is not Optional and that clients may send ("create" visibility) is
required; nested models, discriminated subtypes, maps and lists are checked recursively.
Resource names are checked against Azure ML's name pattern.
"""

from __future__ import annotations

import enum
import functools
import re
import types
import typing
from typing import Any

from azure.ai.ml._restclient.arm_ml_service import models as rest_models
from azure.ai.ml._restclient.arm_ml_service._utils.model_base import Model

from .errors import bad_request

# Job, environment and component names (REST specs: no dots).
NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$")


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, bool, Any, bool], ...]:
    """(rest name, is discriminator, annotation, client-settable) for each field of a model."""
    hints = typing.get_type_hints(cls, localns={"_models": rest_models})
    out = []
    for klass in reversed(cls.__mro__):
        for attr, rf in vars(klass).items():
            if attr.startswith("_") or not hasattr(rf, "_type"):
                continue
            settable = rf._visibility is None or "create" in rf._visibility
            name = rf._rest_name_input or attr
            out.append((name, rf._is_discriminator, hints.get(attr, Any), settable))
    unique = {name: (name, disc, ann, settable) for name, disc, ann, settable in out}
    return tuple(unique.values())


def _discriminator(cls: type) -> str | None:
    for name, is_disc, _, _ in _fields(cls):
        if is_disc:
            return name
    return None


def _is_optional(annotation: Any) -> bool:
    return type(None) in typing.get_args(annotation)


def _check_model(cls: type, value: Any, path: str, errors: list[str]) -> None:
    if not isinstance(value, dict):
        errors.append(f"{path}: expected an object, got {type(value).__name__}")
        return
    mapping = getattr(cls, "__mapping__", None)
    disc = _discriminator(cls)
    if mapping and disc and cls.__dict__.get("__mapping__") is mapping:
        kind = value.get(disc)
        if kind is None:
            errors.append(f"{path}.{disc}: required field is missing")
            return
        if kind not in mapping:
            errors.append(
                f"{path}.{disc}: unknown value {kind!r}; expected one of {sorted(mapping)}"
            )
            return
        cls = mapping[kind]
    for name, is_disc, annotation, settable in _fields(cls):
        if is_disc or not settable:
            continue
        if value.get(name) is None:
            if not _is_optional(annotation):
                errors.append(f"{path}.{name}: required field is missing")
            continue
        check_value(annotation, value[name], f"{path}.{name}", errors)


def check_value(annotation: Any, value: Any, path: str, errors: list[str]) -> None:
    """Append to `errors` every way `value` does not fit `annotation`."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any or origin is typing.Literal:
        return
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        models = [a for a in options if isinstance(a, type) and issubclass(a, Model)]
        if models:
            _check_model(models[0], value, path, errors)
        elif len(options) == 1:
            check_value(options[0], value, path, errors)
        elif isinstance(value, (dict, list)):
            errors.append(f"{path}: expected a string, got {type(value).__name__}")
        return
    if origin is dict:
        if not isinstance(value, dict):
            errors.append(f"{path}: expected an object, got {type(value).__name__}")
            return
        for key, item in value.items():
            check_value(args[1], item, f"{path}.{key}", errors)
        return
    if origin is list:
        if not isinstance(value, list):
            errors.append(f"{path}: expected an array, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            check_value(args[0], item, f"{path}[{i}]", errors)
        return
    if isinstance(annotation, type):
        if issubclass(annotation, Model):
            _check_model(annotation, value, path, errors)
        elif issubclass(annotation, enum.Enum) or annotation is str:
            # Azure's JSON reader turns any scalar into a string (the SDK sends ints in tags).
            if isinstance(value, (dict, list)):
                errors.append(f"{path}: expected a string, got {type(value).__name__}")
        elif annotation is bool:
            if not isinstance(value, bool):
                errors.append(f"{path}: expected a boolean, got {type(value).__name__}")
        elif annotation in (int, float) and (
            isinstance(value, bool) or not isinstance(value, (int, float))
        ):
            errors.append(f"{path}: expected a number, got {type(value).__name__}")


def validate(model_name: str, body: Any) -> list[str]:
    """Errors found checking `body` against the REST model `model_name` (e.g. "JobBase")."""
    errors: list[str] = []
    _check_model(getattr(rest_models, model_name), body, "body", errors)
    return errors


def check_name(kind: str, name: str) -> None:
    """Job, environment and component names: letters, digits, '-' and '_' (no dots)."""
    if not NAME.match(name):
        raise bad_request(
            f"{kind} name '{name}' is invalid: it must match {NAME.pattern} (start with a "
            "letter or digit; letters, digits, '-' and '_' only; at most 255 characters)."
        )
