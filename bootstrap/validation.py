"""JSON Schema validation whose every error names the field (JSON pointer) and what is allowed."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from bootstrap.errors import ValidationIssue

__all__ = ["SCHEMA_DIR", "apply_defaults", "load_schema", "validate"]

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The schema ``schemas/<name>.schema.json``, the single source of validation."""
    with (SCHEMA_DIR / f"{name}.schema.json").open(encoding="utf-8") as fh:
        schema: dict[str, Any] = json.load(fh)
    Draft202012Validator.check_schema(schema)
    return schema


def _pointer(parts: list[str | int]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _message(error: ValidationError) -> tuple[str, str]:
    path = list(error.absolute_path)
    value = error.validator_value
    kind = error.validator
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else str(value)
        return _pointer([*path, missing]), "is required"
    if kind == "additionalProperties":
        return _pointer(path), f"{error.message}; allowed fields are listed in the schema"
    if kind == "enum":
        return _pointer(path), "must be one of: " + ", ".join(json.dumps(v) for v in value)
    if kind == "const":
        return _pointer(path), f"must be {json.dumps(value)}"
    if kind == "pattern":
        return _pointer(path), f"{json.dumps(error.instance)} must match the pattern {value}"
    if kind == "type":
        return _pointer(path), f"must be of type {value}"
    if kind in ("maxLength", "minLength", "maxItems", "minItems", "maximum", "minimum"):
        return _pointer(path), f"{error.message} ({kind} {value})"
    return _pointer(path), error.message


def validate(instance: Any, schema_name: str) -> list[ValidationIssue]:
    """Every schema error, ordered by path, each as ``{"path", "message"}``."""
    validator = Draft202012Validator(load_schema(schema_name))
    issues: list[ValidationIssue] = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.path))):
        leaves = error.context if error.validator in ("anyOf", "oneOf") and error.context else []
        path, message = _message(error)
        if leaves:
            message = "must satisfy one of: " + " | ".join(sorted({_message(e)[1] for e in leaves}))
        issues.append({"path": path, "message": message})
    return issues


def apply_defaults(instance: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``instance`` with each missing object property given its schema ``default``."""
    result = copy.deepcopy(instance)
    _fill(result, schema, schema)
    return result


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node and node["$ref"].startswith("#/"):
        target: Any = root
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _fill(value: Any, node: dict[str, Any], root: dict[str, Any]) -> None:
    node = _resolve(node, root)
    if isinstance(value, dict):
        for key, sub in node.get("properties", {}).items():
            sub = _resolve(sub, root)
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                _fill(value[key], sub, root)
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for item in value:
            _fill(item, node["items"], root)
