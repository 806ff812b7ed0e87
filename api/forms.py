"""The "new stream" form, drawn from the stream-request schema and read back into a request.

Field names, labels, hints, limits and choices come from the schema (and the org's role
names for ``roles``), so a field added to the schema shows up in the form. The server does the
validating, with the same code as the API, and each error is put beside the field its JSON
pointer names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bootstrap.config import STREAM_ENVIRONMENTS, OrgConfig
from bootstrap.errors import ValidationIssue
from bootstrap.validation import load_schema

__all__ = ["FormField", "errors_by_field", "form_fields", "read_form"]


@dataclass(frozen=True)
class FormField:
    pointer: str
    """JSON pointer into the request, also the form field's name."""
    label: str
    kind: str
    """``text``, ``email``, ``choices`` (checkboxes) or ``pairs`` (``key=value`` lines)."""
    required: bool
    hint: str
    max_length: int | None = None
    options: tuple[str, ...] = ()
    default: tuple[str, ...] = ()


def _label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _hint(node: dict[str, Any]) -> str:
    parts = [str(node.get("description", ""))]
    if "pattern" in node and not node.get("description"):
        parts.append(f"pattern {node['pattern']}")
    return " ".join(p for p in parts if p)


def _leaf(pointer: str, key: str, node: dict[str, Any], required: bool) -> FormField:
    kind = "email" if key == "email" else "text"
    return FormField(
        pointer, _label(key), kind, required, _hint(node), max_length=node.get("maxLength")
    )


def form_fields(config: OrgConfig) -> list[FormField]:
    schema = load_schema("stream-request")
    required = set(schema.get("required", []))
    fields: list[FormField] = []
    for key, node in schema["properties"].items():
        pointer = f"/{key}"
        if node.get("type") == "object" and "properties" in node:
            inner = set(node.get("required", []))
            for sub, subnode in node["properties"].items():
                leaf = _leaf(f"{pointer}/{sub}", sub, subnode, key in required and sub in inner)
                fields.append(
                    FormField(**{**leaf.__dict__, "label": f"{_label(key)}: {_label(sub)}"})
                )
        elif node.get("type") == "object":
            fields.append(FormField(pointer, _label(key), "pairs", key in required, _hint(node)))
        elif node.get("type") == "array":
            options = tuple(node.get("items", {}).get("enum", ()))
            if key == "roles":
                options = tuple(
                    r.name
                    for r in config.standard_roles
                    if set(r.accounts) & set(STREAM_ENVIRONMENTS)
                )
            fields.append(
                FormField(
                    pointer,
                    _label(key),
                    "choices",
                    key in required,
                    _hint(node),
                    options=options,
                    default=tuple(node.get("default", ())),
                )
            )
        else:
            fields.append(_leaf(pointer, key, node, key in required))
    return fields


def _set(document: dict[str, Any], pointer: str, value: Any) -> None:
    parts = pointer.strip("/").split("/")
    target = document
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def _pairs(text: str, pointer: str, issues: list[ValidationIssue]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep:
            issues.append({"path": pointer, "message": f"line {number}: write key=value"})
            continue
        pairs[key.strip()] = value.strip()
    return pairs


def read_form(
    form: Mapping[str, Sequence[str]], fields: list[FormField]
) -> tuple[dict[str, Any], list[ValidationIssue]]:
    """The request the form describes, and the problems only the form can have."""
    document: dict[str, Any] = {}
    issues: list[ValidationIssue] = []
    for field in fields:
        values = [v for v in form.get(field.pointer, []) if v.strip()]
        if field.kind == "choices":
            if values:
                _set(document, field.pointer, list(dict.fromkeys(values)))
        elif field.kind == "pairs":
            pairs = _pairs(values[0] if values else "", field.pointer, issues)
            if pairs:
                _set(document, field.pointer, pairs)
        elif values:
            _set(document, field.pointer, values[0].strip())
    return document, issues


def errors_by_field(
    issues: list[ValidationIssue], fields: list[FormField]
) -> tuple[dict[str, list[str]], list[str]]:
    """Messages keyed by the field whose pointer is the longest prefix; the rest apart."""
    by_field: dict[str, list[str]] = {}
    rest: list[str] = []
    pointers = sorted((f.pointer for f in fields), key=len, reverse=True)
    for issue in issues:
        path = issue["path"]
        owner = next((p for p in pointers if path == p or path.startswith(p + "/")), None)
        if owner is None and path:
            owner = next((f.pointer for f in fields if f.pointer.startswith(path + "/")), None)
        if owner is None:
            rest.append(f"{path or '/'}: {issue['message']}")
        else:
            by_field.setdefault(owner, []).append(issue["message"])
    return by_field, rest
