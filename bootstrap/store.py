"""Storage behind one small interface: stream records, the link catalogue, CIDR allocations.

:class:`RecordTable` is the interface (get, conditional put, delete, scan, query);
:class:`DynamoRecordTable` fills it with DynamoDB. ``TABLES`` is the one definition of the
tables' keys: the sandbox creates them from it and a test checks ``infra/`` agrees.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from bootstrap.aws import CLIENT_CONFIG, client, error_code

__all__ = [
    "TABLES",
    "ConditionFailed",
    "DynamoRecordTable",
    "RecordTable",
    "TableNames",
    "ensure_tables",
    "plain",
]


@dataclass(frozen=True)
class TableNames:
    streams: str = "orgvend-streams"
    links: str = "orgvend-links"
    cidrs: str = "orgvend-cidr-allocations"


TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "streams": (("name", "HASH"),),
    "links": (("account_id", "HASH"), ("role_name", "RANGE")),
    "cidrs": (("pool", "HASH"),),
}
"""Key schema per logical table: ``((attribute, HASH|RANGE), ...)``, all string keys."""


class ConditionFailed(Exception):
    """A conditional write lost: someone else wrote first."""


def plain(value: Any) -> Any:
    """DynamoDB's Decimals turned back into ints and floats, recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


class RecordTable(ABC):
    """A table of JSON-like records with optimistic concurrency on an integer ``version``."""

    @abstractmethod
    def get(self, key: dict[str, str], *, consistent: bool = True) -> dict[str, Any] | None: ...

    @abstractmethod
    def put(self, item: dict[str, Any], *, expected_version: int | None = None) -> None:
        """Write ``item``. ``expected_version=0`` means "must not exist yet"; ``N`` means the
        stored ``version`` must be N. Raises :class:`ConditionFailed` when the condition fails."""

    @abstractmethod
    def delete(self, key: dict[str, str]) -> None: ...

    @abstractmethod
    def scan(self) -> Iterator[dict[str, Any]]: ...

    @abstractmethod
    def query(self, hash_name: str, hash_value: str) -> Iterator[dict[str, Any]]: ...

    @abstractmethod
    def put_many(self, items: list[dict[str, Any]]) -> None: ...


class DynamoRecordTable(RecordTable):
    def __init__(self, session: boto3.Session, table_name: str) -> None:
        resource = session.resource("dynamodb", config=CLIENT_CONFIG)
        self._table = resource.Table(table_name)
        self.name = table_name

    def get(self, key: dict[str, str], *, consistent: bool = True) -> dict[str, Any] | None:
        reply = self._table.get_item(Key=key, ConsistentRead=consistent)
        item = reply.get("Item")
        return plain(item) if item is not None else None

    def put(self, item: dict[str, Any], *, expected_version: int | None = None) -> None:
        kwargs: dict[str, Any] = {"Item": _to_dynamo(item)}
        if expected_version == 0:
            kwargs["ConditionExpression"] = Attr("version").not_exists()
        elif expected_version is not None:
            kwargs["ConditionExpression"] = Attr("version").eq(expected_version)
        try:
            self._table.put_item(**kwargs)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise ConditionFailed(self.name) from exc
            raise

    def delete(self, key: dict[str, str]) -> None:
        self._table.delete_item(Key=key)

    def scan(self) -> Iterator[dict[str, Any]]:
        return self._pages(self._table.scan, {})

    def query(self, hash_name: str, hash_value: str) -> Iterator[dict[str, Any]]:
        return self._pages(
            self._table.query, {"KeyConditionExpression": Key(hash_name).eq(hash_value)}
        )

    @staticmethod
    def _pages(call: Any, kwargs: dict[str, Any]) -> Iterator[dict[str, Any]]:
        while True:
            page = call(**kwargs)
            for item in page.get("Items", []):
                yield plain(item)
            if "LastEvaluatedKey" not in page:
                return
            kwargs = {**kwargs, "ExclusiveStartKey": page["LastEvaluatedKey"]}

    def put_many(self, items: list[dict[str, Any]]) -> None:
        with self._table.batch_writer() as batch:
            for item in items:
                batch.put_item(Item=_to_dynamo(item))


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_to_dynamo(v) for v in value]
    return value


def ensure_tables(session: boto3.Session, names: TableNames) -> list[str]:
    """Create any missing table (on-demand billing); returns the names created."""
    ddb = client(session, "dynamodb")
    created = []
    for logical, keys in TABLES.items():
        name = getattr(names, logical)
        try:
            ddb.describe_table(TableName=name)
            continue
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
        ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": a, "KeyType": t} for a, t in keys],
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a, _ in keys],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
        created.append(name)
    return created
