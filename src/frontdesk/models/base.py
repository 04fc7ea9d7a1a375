"""Declarative base, naming convention for Alembic, and the column types every table shares."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import BigInteger, DateTime, Integer, LargeBinary, MetaData
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, MappedAsDataclass
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database.

    PostgreSQL stores `timestamptz`. SQLite has no time type, so values are normalised to UTC
    and stored naive in one fixed format, which keeps string comparison in SQL correct, and
    come back with `tzinfo=UTC` attached. Naive datetimes are refused rather than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# 64-bit ids on PostgreSQL; SQLite's autoincrementing rowid must be declared INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")

# SHA-256 digests: 32 raw bytes (`bytea` / `BLOB`).
Digest = LargeBinary(32)


class Base(MappedAsDataclass, DeclarativeBase, kw_only=True):
    """Base of every frontdesk table: typed mapped dataclasses with deterministic constraint names."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table = cls.__dict__.get("__table__")
        if table is not None and [column.name for column in table.primary_key] == ["id"]:
            # ids are public (sessions' travel to upstream apps): never hand one out twice. SQLite
            # reuses max(rowid) + 1 after deletes unless the table says AUTOINCREMENT; PostgreSQL's
            # sequences never reuse a value.
            table.dialect_kwargs["sqlite_autoincrement"] = True
