"""The catalogue in the formats people paste somewhere: JSON, CSV, ``~/.aws/config``, AESR.

Each format is read by someone else's parser (a spreadsheet, botocore, the aws-extend-switch-roles
browser extension), so each writer keeps to what that parser accepts rather than to what looks
right: formula cells are defused for spreadsheets, AESR values never hold ``=``, ``;`` or ``#``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict

from bootstrap.catalogue import Link, short_role_name

__all__ = ["FILENAMES", "FORMATS", "MEDIA_TYPES", "SOURCE_PROFILE", "export"]

FORMATS = ("json", "csv", "aws-config", "aesr")
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv",
    "aws-config": "text/plain",
    "aesr": "text/plain",
}
FILENAMES = {
    "json": "orgvend-links.json",
    "csv": "orgvend-links.csv",
    "aws-config": "aws-config",
    "aesr": "aesr.ini",
}
SOURCE_PROFILE = "orgvend-users"
"""The profile (and AESR base account) that every role profile starts from: the users account."""

CSV_FIELDS = (
    "stream",
    "environment",
    "account_id",
    "account_name",
    "role_name",
    "display_name",
    "colour",
    "url",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_ACCOUNT_ID = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_IAM_USER = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
_PROFILE_UNSAFE = re.compile(r"[^a-z0-9_.-]+")
_AESR_UNSAFE = re.compile(r"[=;#\[\]\s]+")


def export(
    links: list[Link],
    fmt: str,
    *,
    users_account_id: str,
    region: str,
    user: str | None = None,
) -> str:
    """``links`` rendered as ``fmt`` (one of :data:`FORMATS`), in the order given."""
    writer = _WRITERS.get(fmt)
    if writer is None:
        raise ValueError(f"unknown export format {fmt!r}; allowed: {', '.join(FORMATS)}")
    if not _ACCOUNT_ID.fullmatch(users_account_id):
        raise ValueError(f"users account id must be 12 digits, not {users_account_id!r}")
    if not _REGION.fullmatch(region):
        raise ValueError(f"not an AWS region name: {region!r}")
    if user is not None and not _IAM_USER.fullmatch(user):
        raise ValueError(f"not an IAM user name: {user!r}")
    return writer(links, users_account_id, region, user)


def _json(links: list[Link], users_account_id: str, region: str, user: str | None) -> str:
    records = [{**asdict(link), "url": link.url} for link in links]
    return json.dumps(records, indent=2) + "\n"


def _defused(value: str) -> str:
    """A cell a spreadsheet will not evaluate: formulas start with one of these characters."""
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def _csv(links: list[Link], users_account_id: str, region: str, user: str | None) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for link in links:
        row = {**asdict(link), "url": link.url}
        writer.writerow({name: _defused(row[name] or "") for name in CSV_FIELDS})
    return out.getvalue()


def _unique(names: list[str], *, reserved: str) -> list[str]:
    """``names`` made unique with ``-2``, ``-3`` ... suffixes; ``reserved`` is never returned."""
    seen = {reserved}
    result = []
    for name in names:
        candidate, n = name, 1
        while candidate in seen:
            n += 1
            candidate = f"{name}-{n}"
        seen.add(candidate)
        result.append(candidate)
    return result


def _profile_name(link: Link) -> str:
    raw = f"{link.account_name}-{short_role_name(link.role_name)}".lower()
    return _PROFILE_UNSAFE.sub("-", raw).strip("-") or f"{link.account_id}-role"


def _aws_config(links: list[Link], users_account_id: str, region: str, user: str | None) -> str:
    lines = [
        f"# orgvend switch-role profiles. [profile {SOURCE_PROFILE}] is your IAM user in the",
        f"# users account {users_account_id}: put its access key in ~/.aws/credentials under",
        f"# [{SOURCE_PROFILE}]. Every other profile assumes a role from it.",
    ]
    if user is None:
        lines += [
            "# The roles require MFA: export again with your IAM user name (orgvend links",
            "# --user NAME) to get the mfa_serial line in each profile.",
        ]
    lines += ["", f"[profile {SOURCE_PROFILE}]", f"region = {region}"]
    names = _unique([_profile_name(link) for link in links], reserved=SOURCE_PROFILE)
    for name, link in zip(names, links, strict=True):
        lines += [
            "",
            f"[profile {name}]",
            f"role_arn = arn:aws:iam::{link.account_id}:role/{link.role_name}",
            f"source_profile = {SOURCE_PROFILE}",
        ]
        if user is not None:
            lines.append(f"mfa_serial = arn:aws:iam::{users_account_id}:mfa/{user}")
        lines += [f"region = {region}", f"role_session_name = {user or 'orgvend'}"]
    return "\n".join(lines) + "\n"


def _aesr_value(value: str, what: str) -> str:
    """AESR's parser cuts a line at ``;`` or ``#`` and a value at its first ``=``."""
    if _AESR_UNSAFE.search(value):
        raise ValueError(f"{what} {value!r} cannot be written to an AESR config")
    return value


def _aesr_section(link: Link) -> str:
    name = _AESR_UNSAFE.sub(" ", link.display_name).strip()
    return name or f"{link.account_id} {short_role_name(link.role_name)}"


def _aesr(links: list[Link], users_account_id: str, region: str, user: str | None) -> str:
    lines = [f"[{SOURCE_PROFILE}]", f"aws_account_id = {users_account_id}"]
    if links:
        common = Counter(link.role_name for link in links).most_common(1)[0][0]
        lines.append(f"target_role_name = {_aesr_value(common, 'role name')}")
    names = _unique([_aesr_section(link) for link in links], reserved=SOURCE_PROFILE)
    for name, link in zip(names, links, strict=True):
        lines += [
            "",
            f"[{name}]",
            f"aws_account_id = {link.account_id}",
            f"role_name = {_aesr_value(link.role_name, 'role name')}",
            f"source_profile = {SOURCE_PROFILE}",
            f"color = {link.colour}",
            f"region = {region}",
        ]
    return "\n".join(lines) + "\n"


_WRITERS: dict[str, Callable[[list[Link], str, str, str | None], str]] = {
    "json": _json,
    "csv": _csv,
    "aws-config": _aws_config,
    "aesr": _aesr,
}
