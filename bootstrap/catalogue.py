"""The link catalogue: one console switch-role link per account and standard role.

The console remembers only five switched roles, so people keep lists of links. orgvend owns that
list: every account it bootstraps or vends registers its links here, and the exports in
:mod:`bootstrap.exports` are all made from it.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import asdict, dataclass, fields
from typing import Any
from urllib.parse import quote, urlencode

from bootstrap.changes import Plan
from bootstrap.config import PALETTE, STREAM_ENVIRONMENTS, OrgConfig
from bootstrap.store import RecordTable

__all__ = [
    "DISPLAY_NAME_MAX",
    "SWITCH_ROLE_ENDPOINT",
    "Link",
    "LinkCatalogue",
    "display_name",
    "links_for_account",
    "short_role_name",
    "switch_url",
]

SWITCH_ROLE_ENDPOINT = "https://signin.aws.amazon.com/switchrole"
DISPLAY_NAME_MAX = 64
"""The console cuts the display name of a switched role at 64 characters."""

_ROLE_PREFIX = "useraccount-"
_ACCOUNT_ID = re.compile(r"\d{12}")
_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)


def _check_account_id(account_id: str) -> None:
    if not _ACCOUNT_ID.fullmatch(account_id):
        raise ValueError(f"account id must be 12 digits, not {account_id!r}")


def _check_role_name(role_name: str) -> None:
    if not _ROLE_NAME.fullmatch(role_name):
        raise ValueError(f"not an IAM role name: {role_name!r}")


def _check_colour(colour: str) -> None:
    if colour not in PALETTE.values():
        allowed = ", ".join(f"{hex_} ({name})" for name, hex_ in PALETTE.items())
        raise ValueError(f"colour {colour!r} is not in the console palette: {allowed}")


def switch_url(*, account_id: str, role_name: str, display_name: str, colour: str) -> str:
    """The console link that switches to ``role_name`` in ``account_id``.

    The console accepts only its five palette colours; any other value is silently dropped
    there, so it is refused here instead.
    """
    _check_account_id(account_id)
    _check_role_name(role_name)
    _check_colour(colour)
    query = {
        "account": account_id,
        "roleName": role_name,
        "displayName": display_name[:DISPLAY_NAME_MAX],
        "color": colour,
    }
    return f"{SWITCH_ROLE_ENDPOINT}?{urlencode(query, quote_via=quote)}"


def short_role_name(role_name: str) -> str:
    """``useraccount-fulladmin`` -> ``fulladmin``: the prefix is the same on every role."""
    short = role_name.removeprefix(_ROLE_PREFIX)
    return short or role_name


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    printable = "".join(c for c in decomposed if c.isascii() and c.isprintable())
    return " ".join(printable.split())


def display_name(account_name: str, role_name: str) -> str:
    """``payments-live/fulladmin``: ASCII, at most 64 characters, the role kept whole if it fits.

    ASCII because the console and the browser extensions show it in places that mangle
    anything else.
    """
    account = _ascii(account_name)
    role = _ascii(short_role_name(role_name))
    room = DISPLAY_NAME_MAX - len(role) - 1
    if room < 1:
        return f"{account}/{role}"[:DISPLAY_NAME_MAX]
    return f"{account[:room]}/{role}"


@dataclass(frozen=True)
class Link:
    """One switch-role link. ``environment`` is the account kind (``users`` ... ``devtest``)."""

    stream: str | None
    environment: str
    account_id: str
    account_name: str
    role_name: str
    display_name: str
    colour: str

    def __post_init__(self) -> None:
        _check_account_id(self.account_id)
        _check_role_name(self.role_name)
        _check_colour(self.colour)

    @property
    def url(self) -> str:
        return switch_url(
            account_id=self.account_id,
            role_name=self.role_name,
            display_name=self.display_name,
            colour=self.colour,
        )

    def to_item(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Link:
        """A stored item back as a link; DynamoDB leaves out the ``stream`` of core accounts."""
        return cls(
            stream=item.get("stream"),
            environment=str(item["environment"]),
            account_id=str(item["account_id"]),
            account_name=str(item["account_name"]),
            role_name=str(item["role_name"]),
            display_name=str(item["display_name"]),
            colour=str(item["colour"]),
        )


def links_for_account(
    config: OrgConfig,
    *,
    account_id: str,
    account_name: str,
    kind: str,
    stream: str | None = None,
) -> list[Link]:
    """The links of every standard role an account of ``kind`` carries, in config order."""
    if (kind in STREAM_ENVIRONMENTS) != (stream is not None):
        raise ValueError(
            f"kind {kind!r}: stream accounts ({', '.join(STREAM_ENVIRONMENTS)}) need a stream, "
            "core accounts take none"
        )
    colour = config.colour_hex(kind)
    return [
        Link(
            stream=stream,
            environment=kind,
            account_id=account_id,
            account_name=account_name,
            role_name=role.name,
            display_name=display_name(account_name, role.name),
            colour=colour,
        )
        for role in config.roles_for(kind)
    ]


def _sort_key(link: Link) -> tuple[bool, str, str, str, str]:
    return (
        link.stream is not None,
        link.stream or "",
        link.environment,
        link.account_name,
        link.role_name,
    )


def _differences(old: Link, new: Link) -> str:
    return ", ".join(f.name for f in fields(Link) if getattr(old, f.name) != getattr(new, f.name))


class LinkCatalogue:
    """The catalogue over a table keyed by ``account_id`` + ``role_name``."""

    def __init__(self, table: RecordTable) -> None:
        self._table = table

    def register(self, links: list[Link], *, plan: Plan) -> None:
        """Make the catalogue hold exactly ``links`` for every account they name.

        An identical stored link is left alone ("unchanged"); a stored link of one of these
        accounts whose role is no longer given (dropped from the org config) is deleted.
        """
        stored: dict[str, dict[str, Link]] = {}
        for link in links:
            if link.account_id not in stored:
                stored[link.account_id] = self._stored(link.account_id)
            self._register_one(link, stored[link.account_id].get(link.role_name), plan)
        wanted = {(link.account_id, link.role_name) for link in links}
        for account_id, roles in stored.items():
            for role_name in sorted(roles):
                if (account_id, role_name) not in wanted:
                    key = {"account_id": account_id, "role_name": role_name}
                    plan.record(
                        f"link {account_id}/{role_name}",
                        "delete",
                        "role no longer configured",
                        apply=functools.partial(self._table.delete, key),
                    )

    def _stored(self, account_id: str) -> dict[str, Link]:
        items = self._table.query("account_id", account_id)
        return {item["role_name"]: Link.from_item(item) for item in items}

    def _register_one(self, link: Link, old: Link | None, plan: Plan) -> None:
        resource = f"link {link.account_id}/{link.role_name}"
        item = link.to_item()
        if old is None:
            plan.record(resource, "create", link.display_name, apply=lambda: self._table.put(item))
        elif old != link:
            detail = _differences(old, link)
            plan.record(resource, "update", detail, apply=lambda: self._table.put(item))
        else:
            plan.unchanged(resource)

    def all(self) -> list[Link]:
        """Every link: core accounts first, then streams by name, each by kind, account, role."""
        return sorted((Link.from_item(item) for item in self._table.scan()), key=_sort_key)

    def for_stream(self, stream: str) -> list[Link]:
        return [link for link in self.all() if link.stream == stream]

    def remove_account(self, account_id: str) -> int:
        """Forget every link of ``account_id`` (a closed account); returns how many went."""
        keys = [
            {"account_id": account_id, "role_name": item["role_name"]}
            for item in self._table.query("account_id", account_id)
        ]
        for key in keys:
            self._table.delete(key)
        return len(keys)
