"""The API as an AWS Lambda function behind API Gateway, through the Mangum ASGI adapter.

The app is the same one ``orgvend serve`` runs; only the role source differs: API Gateway
authenticates every request with IAM, and :class:`api.iam_roles.IamPrincipalRoleSource` maps
the signing principal to a role. The app is built once per Lambda container, at the first
request, from the same settings and org config location as the worker.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from mangum import Mangum

from api.app import create_app
from api.iam_roles import IamPrincipalRoleSource
from bootstrap.settings import Settings
from workflows.lambda_worker import load_deployed_config

__all__ = ["build_app", "handler"]


def build_app(session: boto3.Session, settings: Settings, roles: IamPrincipalRoleSource) -> Any:
    config = load_deployed_config(session, settings.config_path)
    return create_app(session=session, config=config, settings=settings, roles=roles)


@cache
def _adapter(settings: Settings) -> Mangum:
    session = boto3.Session(region_name=settings.region)
    app = build_app(session, settings, IamPrincipalRoleSource.from_env())
    return Mangum(app, lifespan="off")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point (``api.lambda_handler.handler``)."""
    return dict(_adapter(Settings.from_env())(event, context))
