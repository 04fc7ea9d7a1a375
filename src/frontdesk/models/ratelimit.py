"""The `rate_limit_buckets` table: fixed-window counters shared by every process."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.models.base import Base


class RateLimitBucket(Base, kw_only=True):
    """How many times `key` was hit in the window starting at `window_start`.

    Keys name a limit and a subject (`login:ip:203.0.113.9`); subjects that are personal data
    (emails) are hashed before they become keys.
    """

    __tablename__ = "rate_limit_buckets"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
