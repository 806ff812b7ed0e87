"""Which AWS API calls orgvend's code can make, found by reading the source with ``ast``.

The heuristic, and its limits (docs/security.md repeats them for readers of the template):

* A *client* is recognised by name. ``client(session, "svc")`` / ``x.client("svc")`` called
  on the spot is a client of ``svc``; otherwise the receiver's last name must be one of
  :data:`CLIENT_NAMES` (``org``, ``iam``, ``self._sqs``, ``scope.ec2``, ...). A client built and
  stored under any other name is reported by :func:`unnamed_clients`, so the test fails
  instead of silently missing calls.
* A *call* is ``<client>.<operation>`` (called or just referenced, as in ``_bind(iam.tag_role,
  ...)``), ``<client>.get_paginator("op")`` and ``<client>.get_waiter("w")``; an operation
  is any name in botocore's model of the service. DynamoDB tables (``_table``) map their
  resource methods to the DynamoDB actions they sign.
* *Reachability* is a call graph from entry points. Names resolve through imports; an
  attribute ``x.m`` that is not a client call links to *every* method named ``m`` in the
  tree, so the graph over-approximates (it may credit a role with a call it never makes, and
  can miss calls made only through a dict of callables, such as ``HANDLERS[step]``: entry
  points list those targets explicitly).
* *Member-account calls* are those made with assumed credentials: a function reached with an
  argument built by ``member_session(...)`` / ``assume_role(...)`` (or a name assigned from
  one) runs "in a member account", and so does everything it reaches. Those calls need the
  member-account role's permissions, not the caller's. A function reached both ways is
  counted both ways.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import botocore.session
from botocore import xform_name

ROOT = Path(__file__).resolve().parents[2]

CLIENT_NAMES = {
    "org": "organizations",
    "iam": "iam",
    "ec2": "ec2",
    "sts": "sts",
    "sqs": "sqs",
    "_sqs": "sqs",
    "sfn": "stepfunctions",
    "_sfn": "stepfunctions",
    "events": "events",
    "ddb": "dynamodb",
    "_table": "dynamodb",
    "table": "dynamodb",
    "ssm": "ssm",
    "s3": "s3",
}
"""Receiver names that hold a boto3 client (or DynamoDB ``Table``) of the service."""

_TABLE_METHODS = {"batch_writer": "BatchWriteItem"}
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def module_code(module: str) -> str:
    """The key of a module's top-level code, which runs when anything in it is used."""
    return f"{module}:<module>"


_ASSUMED = {"bootstrap.aws:member_session", "bootstrap.aws:assume_role"}
_IAM_PREFIX = {"stepfunctions": "states"}


@dataclass(frozen=True)
class Call:
    action: str
    """The IAM action, e.g. ``organizations:CreateAccount``."""
    where: str
    """``path:line`` of the call."""
    member: bool
    """Made with assumed credentials inside another account."""


@cache
def _operations(service: str) -> dict[str, str]:
    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(op): op for op in model.operation_names}


@cache
def _waiters(service: str) -> dict[str, str]:
    loader = botocore.session.get_session().get_component("data_loader")
    try:
        data = loader.load_service_model(service, "waiters-2")
    except Exception:
        return {}
    return {xform_name(name): w["operation"] for name, w in data["waiters"].items()}


def action(service: str, operation: str) -> str:
    return f"{_IAM_PREFIX.get(service, service)}:{operation}"


@dataclass
class _Function:
    key: str
    module: _Module
    node: ast.AST


@dataclass
class _Module:
    name: str
    path: Path
    tree: ast.Module
    scope: dict[str, str] = field(default_factory=dict)
    """Local name -> ``module`` or ``module:object`` it stands for."""


class Index:
    """Every module, function and method under the scanned packages."""

    def __init__(self, packages: Iterable[str] = ("bootstrap", "workflows", "api")) -> None:
        self.modules: dict[str, _Module] = {}
        self.functions: dict[str, _Function] = {}
        self.methods: dict[str, list[str]] = {}
        self.classes: set[str] = set()
        for package in packages:
            for path in sorted((ROOT / package).rglob("*.py")):
                name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
                name = name.removesuffix(".__init__")
                tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
                self.modules[name] = _Module(name, path, tree)
        for module in self.modules.values():
            self._index(module)
        for module in self.modules.values():
            self._imports(module)

    def _index(self, module: _Module) -> None:
        top = [n for n in module.tree.body if not isinstance(n, _DEFINITIONS)]
        key = module_code(module.name)
        self.functions[key] = _Function(key, module, ast.Module(body=top, type_ignores=[]))
        for node in module.tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                key = f"{module.name}:{node.name}"
                self.functions[key] = _Function(key, module, node)
                module.scope[node.name] = key
            elif isinstance(node, ast.ClassDef):
                self.classes.add(f"{module.name}:{node.name}")
                module.scope[node.name] = f"{module.name}:{node.name}"
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        key = f"{module.name}:{node.name}.{item.name}"
                        self.functions[key] = _Function(key, module, item)
                        self.methods.setdefault(item.name, []).append(key)

    def _imports(self, module: _Module) -> None:
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in self.modules:
                        module.scope[alias.asname or alias.name] = alias.name
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    local = alias.asname or alias.name
                    if full in self.modules:
                        module.scope[local] = full
                    elif node.module in self.modules:
                        module.scope[local] = f"{node.module}:{alias.name}"

    def resolve(self, module: _Module, node: ast.expr) -> list[str]:
        """The functions a name or attribute may stand for (a class stands for its init)."""
        if isinstance(node, ast.Name):
            return self._targets(module.scope.get(node.id, ""))
        if not isinstance(node, ast.Attribute) or node.attr.startswith("__"):
            return []
        if isinstance(node.value, ast.Name):
            base = module.scope.get(node.value.id, "")
            if base in self.modules:
                return self._targets(self.modules[base].scope.get(node.attr, ""))
            if base in self.classes:
                return self._targets(f"{base}.{node.attr}")
        return list(self.methods.get(node.attr, []))

    def _targets(self, target: str) -> list[str]:
        if target in self.functions:
            return [target]
        if target in self.classes:
            return [
                k for k in (f"{target}.__init__", f"{target}.__post_init__") if k in self.functions
            ]
        return []


def decorated(index: Index, package: str) -> list[str]:
    """Functions registered by a decorator (routes, handlers): called by a framework."""
    return [
        key
        for key, function in index.functions.items()
        if key.startswith(f"{package}.")
        and isinstance(function.node, ast.FunctionDef | ast.AsyncFunctionDef)
        and function.node.decorator_list
    ]


def _last_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _built_client(node: ast.expr) -> str | None:
    """The service of ``client(s, "svc")`` / ``s.client("svc")`` / ``s.resource("svc")``."""
    if not isinstance(node, ast.Call):
        return None
    if _last_name(node.func) not in ("client", "resource"):
        return None
    strings = [a.value for a in node.args if isinstance(a, ast.Constant)]
    return str(strings[0]) if strings and isinstance(strings[0], str) else None


def _service_of(receiver: ast.expr) -> str | None:
    return _built_client(receiver) or CLIENT_NAMES.get(_last_name(receiver))


def _first_string(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        value = node.args[0].value
        return value if isinstance(value, str) else None
    return None


def _aws_action(attribute: ast.Attribute, parent: ast.AST | None) -> str | None:
    service = _service_of(attribute.value)
    if service is None:
        return None
    if service == "dynamodb" and attribute.attr in _TABLE_METHODS:
        return action(service, _TABLE_METHODS[attribute.attr])
    if attribute.attr == "get_paginator" and parent is not None:
        op = _first_string(parent)
        return action(service, _operations(service)[op]) if op else None
    if attribute.attr == "get_waiter" and parent is not None:
        waiter = _first_string(parent)
        return action(service, _waiters(service)[xform_name(waiter)]) if waiter else None
    op = _operations(service).get(attribute.attr)
    return action(service, op) if op else None


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


class _Walk:
    """One function body: its AWS calls and the functions it reaches, with their context."""

    def __init__(self, index: Index, function: _Function, member: bool) -> None:
        self.index = index
        self.function = function
        self.member = member
        self.assumed: set[str] = set()
        self.assumed = self._assumed_names()

    def _is_assumed(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.assumed
        if isinstance(node, ast.Call):
            targets = self.index.resolve(self.function.module, node.func)
            return any(t in _ASSUMED for t in targets)
        return False

    def _assumed_names(self) -> set[str]:
        names: set[str] = set()
        for node in ast.walk(self.function.node):
            if isinstance(node, ast.Assign) and self._is_assumed(node.value):
                names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        return names

    def _argument_assumed(self, node: ast.AST | None) -> bool:
        if not isinstance(node, ast.Call):
            return False
        values = [*node.args, *(k.value for k in node.keywords)]
        return any(self._is_assumed(v) for v in values)

    def run(self) -> Iterator[tuple[str, object]]:
        parents = _parents(self.function.node)
        path = self.function.module.path.relative_to(ROOT)
        for node in ast.walk(self.function.node):
            if not isinstance(node, ast.Name | ast.Attribute):
                continue
            parent = parents.get(node)
            if isinstance(node, ast.Attribute):
                found = _aws_action(node, parent)
                if found:
                    member = self.member or self._client_assumed(node.value)
                    yield "call", Call(found, f"{path}:{node.lineno}", member)
                    continue
            member = self.member or self._argument_assumed(parent)
            for target in self.index.resolve(self.function.module, node):
                yield "edge", (target, member)

    def _client_assumed(self, receiver: ast.expr) -> bool:
        return (
            isinstance(receiver, ast.Call)
            and bool(receiver.args)
            and self._is_assumed(receiver.args[0])
        )


def reachable_calls(index: Index, entry_points: Iterable[str]) -> set[Call]:
    """Every AWS call reachable from ``entry_points`` (``module:function`` keys)."""
    todo = [(key, False) for key in entry_points]
    missing = [key for key, _ in todo if key not in index.functions]
    if missing:
        raise KeyError(f"unknown entry points {missing}")
    seen: set[tuple[str, bool]] = set()
    calls: set[Call] = set()
    while todo:
        key, member = todo.pop()
        if (key, member) in seen:
            continue
        seen.add((key, member))
        todo.append((module_code(index.functions[key].module.name), False))
        for kind, item in _Walk(index, index.functions[key], member).run():
            if kind == "call":
                assert isinstance(item, Call)
                calls.add(item)
            else:
                assert isinstance(item, tuple)
                todo.append(item)
    return calls


def unnamed_clients(index: Index) -> list[str]:
    """Clients stored under a name the analyser would not recognise: ``path:line name``."""
    found = []
    for module in index.modules.values():
        for node in ast.walk(module.tree):
            if not isinstance(node, ast.Assign) or _built_client(node.value) is None:
                continue
            for target in node.targets:
                name = _last_name(target)
                if name not in CLIENT_NAMES and name != "resource":
                    found.append(f"{module.path.relative_to(ROOT)}:{node.lineno} {name}")
    return found
