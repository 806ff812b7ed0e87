"""What the listing pages show, built once per snapshot instead of once per request.

The dashboard table and the catalogue do not depend on who looks at them, so each snapshot of
the tables is rendered once (escaped by Jinja like every page) and every request after that
sends the same HTML; exports are made once per format. With thousands of accounts this is the
difference between milliseconds and seconds per page.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from api.models import StreamSummary
from api.templating import render_fragment
from api.views import stream_summary
from bootstrap.catalogue import Link
from bootstrap.exports import export
from bootstrap.streams import STEPS

__all__ = ["LinksView", "StreamsView"]

Record = dict[str, Any]


def _newest_first(record: Record) -> tuple[str, str]:
    return (str(record.get("created_at") or ""), str(record["name"]))


@dataclass(frozen=True)
class StreamsView:
    records: list[Record]
    """By name: the API pages through them with the name as cursor."""
    summaries: list[StreamSummary]
    """Newest first, as the dashboard lists them."""
    dashboard_html: Markup

    @classmethod
    def build(cls, records: list[Record]) -> StreamsView:
        by_name = sorted(records, key=lambda r: str(r["name"]))
        summaries = [stream_summary(r) for r in sorted(records, key=_newest_first, reverse=True)]
        html = render_fragment("_dashboard_table.html", {"streams": summaries, "steps": STEPS})
        return cls(by_name, summaries, html)


@dataclass(frozen=True)
class LinksView:
    links: list[Link]
    catalogue_html: Markup
    _exports: dict[tuple[str, str | None, str | None, str, str], str] = field(
        default_factory=dict, compare=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False)

    @classmethod
    def build(cls, links: list[Link]) -> LinksView:
        groups: dict[tuple[str, str], list[Link]] = {}
        for link in links:
            groups.setdefault((link.stream or "core accounts", link.environment), []).append(link)
        return cls(links, render_fragment("_catalogue.html", {"groups": groups}))

    def export(
        self,
        fmt: str,
        *,
        users_account_id: str,
        region: str,
        stream: str | None = None,
        user: str | None = None,
    ) -> str:
        """The export, made once per format and filter for this snapshot."""
        key = (fmt, stream, user, users_account_id, region)
        with self._lock:
            cached = self._exports.get(key)
            if cached is None:
                chosen = self.links
                if stream is not None:
                    chosen = [link for link in chosen if link.stream == stream]
                cached = export(
                    chosen, fmt, users_account_id=users_account_id, region=region, user=user
                )
                if len(self._exports) >= 32:
                    self._exports.clear()
                self._exports[key] = cached
            return cached
