"""What the `frontdesk` command prints: the `--json` shapes (stable; documented in docs/cli.md)
and the text forms, which stay readable when piped or at 80 columns."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from frontdesk.mail import OutboxCounts
from frontdesk.migrate import UpgradeReport
from frontdesk.service.maintenance import CleanupReport
from frontdesk.service.sessions import SessionView

Json = dict[str, object]
WIDE = 120  # columns from which `sessions` is one table row per session


def dumps(value: object) -> str:
    """JSON as printed: indented, keys in the documented order, non-ASCII kept."""
    return json.dumps(value, indent=2, ensure_ascii=False)


def timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, as the HTTP API writes times."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def kind(s: SessionView) -> str:
    return "api_key" if s.is_api_key else ("remembered" if s.long_lived else "browser")


def session_json(s: SessionView) -> Json:
    return {
        "id": s.id,
        "kind": kind(s),
        "name": s.name,
        "created": timestamp(s.created),
        "expiry": timestamp(s.expiry),
        "last_seen": timestamp(s.last_seen),
        "api_calls": s.api_calls,
        "long_lived": s.long_lived,
        "is_api_key": s.is_api_key,
        "ip_address": s.ip_address,
        "user_agent": s.user_agent,
        "browser": s.browser,
        "operating_system": s.operating_system,
        "device": s.device,
    }


def sessions_json(user_id: int, username: str, sessions: list[SessionView]) -> Json:
    return {"user": {"id": user_id, "username": username}, "sessions": [session_json(s) for s in sessions]}


_LABELS = {"api_key": "API key", "remembered": "remembered browser", "browser": "browser"}


def _minute(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def sessions_text(username: str, sessions: list[SessionView], width: int) -> RenderableType:
    """A table when the terminal is wide; else one short block per session (readable in a pipe)."""
    if not sessions:
        return Text(f"{username} has no valid sessions or API keys.")
    if width >= WIDE:
        table = Table("id", "kind", "name", "device", "ip", "created", "last seen", "expires", "calls")
        for s in sessions:
            table.add_row(
                str(s.id),
                _LABELS[kind(s)],
                s.name or "",
                f"{s.browser} / {s.operating_system} / {s.device}",
                s.ip_address or "",
                _minute(s.created),
                _minute(s.last_seen),
                _minute(s.expiry),
                str(s.api_calls),
            )
        return table
    blocks: list[RenderableType] = []
    for s in sessions:
        title = f"session {s.id}: {_LABELS[kind(s)]}" + (f" {s.name!r}" if s.name else "")
        lines = [
            title,
            f"  device     {s.browser} / {s.operating_system} / {s.device}",
            f"  ip         {s.ip_address or '-'}",
            f"  created    {_minute(s.created)}",
            f"  last seen  {_minute(s.last_seen)}  ({s.api_calls} calls)",
            f"  expires    {_minute(s.expiry)}",
        ]
        blocks.append(Text("\n".join(lines) + "\n", overflow="fold"))
    return Group(*blocks)


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds(), 3)


def mail_status_json(counts: OutboxCounts) -> Json:
    return {
        "pending": counts.pending,
        "due": counts.due,
        "sent": counts.sent,
        "failed": counts.failed,
        "oldest_pending_seconds": _seconds(counts.oldest_pending_age),
    }


def migrate_json(report: UpgradeReport) -> Json:
    return {
        "applied": [{"revision": a.revision, "description": a.description} for a in report.applied],
        "current": report.current,
    }


def migrate_text(report: UpgradeReport) -> str:
    if not report.applied:
        return f"database is up to date (revision {report.current}); nothing to apply"
    ran = "\n".join(f"  {a.revision}  {a.description}" for a in report.applied)
    return f"applied {len(report.applied)} migration{'s' if len(report.applied) != 1 else ''}:\n{ran}\n" + (
        f"database is now at revision {report.current}"
    )


def cleanup_json(report: CleanupReport) -> Json:
    return {
        "sessions": report.sessions,
        "tokens": report.tokens,
        "rate_limit_buckets": report.rate_limit_buckets,
        "emails": report.emails,
        "challenges": report.challenges,
        "totp_enrolments": report.totp_enrolments,
        "erased_accounts": report.erased_accounts,
        "sign_in_devices": report.sign_in_devices,
    }
