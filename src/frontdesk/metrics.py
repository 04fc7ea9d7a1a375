"""Prometheus metrics shared by every layer (counters only; the web layer exposes them).

With several worker processes, `frontdesk serve` sets PROMETHEUS_MULTIPROC_DIR so /metrics
aggregates all workers. prometheus-client comes with the `frontdesk[server]` extra; without it
(the library alone) the metrics below are no-ops, since only the server has a /metrics to show.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import TYPE_CHECKING

if TYPE_CHECKING or find_spec("prometheus_client") is not None:
    from prometheus_client import Counter, Histogram
else:

    class Counter:
        """A counter that counts nothing (prometheus-client is not installed)."""

        def __init__(self, *_: object, **__: object) -> None:
            pass

        def labels(self, *_: object) -> Counter:
            return self

        def inc(self, amount: float = 1) -> None:
            pass

    class Histogram(Counter):
        """A histogram that records nothing (prometheus-client is not installed)."""

        def observe(self, amount: float) -> None:
            pass


REQUESTS = Counter("frontdesk_http_requests_total", "HTTP requests by route and status.", ["route", "method", "status"])
LATENCY = Histogram(
    "frontdesk_http_request_seconds",
    "HTTP request latency by route.",
    ["route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
LOGINS = Counter("frontdesk_logins_total", "Sign-in attempts by method and result.", ["method", "result"])
VERIFICATIONS = Counter("frontdesk_verifications_total", "GET /v1/verify answers by result.", ["result"])
EMAILS = Counter("frontdesk_emails_total", "Emails by outcome: queued, sent, retried, failed.", ["outcome"])
VERIFY_BATCH = Histogram(
    "frontdesk_verify_batch_size",
    "Credentials checked per statement on the /v1/verify fast path (PostgreSQL).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)
SOCIAL_SIGN_INS = Counter(
    "frontdesk_social_sign_ins_total",
    "Social sign-in callbacks by configured provider and outcome (signed_in, linked, needs_link, refusal reason).",
    ["provider", "outcome"],
)
SECOND_FACTOR_VERIFICATIONS = Counter(
    "frontdesk_second_factor_verifications_total",
    "Second-factor proofs by method (totp, recovery_code, webauthn, passkey) and outcome "
    "(success, invalid_code, invalid_token, rate_limited).",
    ["method", "outcome"],
)
SECOND_FACTOR_ENROLMENTS = Counter(
    "frontdesk_second_factor_enrolments_total", "Second factors that became active, by method.", ["method"]
)
SECOND_FACTOR_REMOVALS = Counter(
    "frontdesk_second_factor_removals_total",
    "Second factors removed by their owner (totp, webauthn) and administrator resets (admin_reset).",
    ["method"],
)
NEW_DEVICE_NOTICES = Counter(
    "frontdesk_new_device_notices_total",
    "New-device notices by outcome: sent, suppressed (over the account's limit), not_me and not_me_all "
    "(a \"this wasn't me\" link used, ending that device's sessions or every session and key).",
    ["outcome"],
)
