"""Queries, each taking the caller's `db: Session` first: `get_*` return the row or None (the
service decides whether that is an error); others return what they found or changed. They may
flush, never commit."""
