"""Jinja2 for the pages: autoescaped always, strict about undefined names.

Every value a person typed (display names, tags, reasons) reaches the HTML through here and
is escaped by Jinja; templates never mark such a value safe, and the CSP forbids inline
scripts in case one ever slipped through.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from api.views import age_text

if TYPE_CHECKING:
    from api.deps import Caller
from bootstrap.config import PALETTE

__all__ = ["STATIC_DIR", "TEMPLATE_DIR", "environment", "render", "render_fragment"]

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"
_COLOUR_NAMES = {hex_: name for name, hex_ in PALETTE.items()}


def _colour_name(hex_: str) -> str:
    return _COLOUR_NAMES.get(hex_, "blue")


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["age"] = age_text
    env.filters["colour_name"] = _colour_name
    return env


_ENV = environment()


def render(
    request: Request,
    template: str,
    caller: Caller | None,
    context: dict[str, Any],
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    values = {
        "request_path": request.url.path,
        "caller": caller.principal if caller else None,
        "csrf": caller.session.csrf if caller and caller.session else "",
        **context,
    }
    html = _ENV.get_template(template).render(values)
    return HTMLResponse(html, status_code=status, headers=headers)


def render_fragment(template: str, context: dict[str, Any]) -> Markup:
    """A part of a page that is the same for every caller, rendered (and escaped) once."""
    return Markup(_ENV.get_template(template).render(context))  # noqa: S704 - autoescaped
