"""How many rows a bulk UPDATE or DELETE changed: the answer single-use rules are decided by."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Result


def changed(result: Result[Any]) -> int:
    """Rows changed by the statement behind `result` (`Session.execute` types every result as a
    plain `Result`; an UPDATE or DELETE's is a `CursorResult`, which counts them)."""
    return int(cast(CursorResult[Any], result).rowcount)
