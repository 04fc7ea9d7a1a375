"""Prometheus metrics shared by every layer (counters only; the web layer exposes them).

With several worker processes, `frontdesk serve` sets PROMETHEUS_MULTIPROC_DIR so /metrics
aggregates all workers.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

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
