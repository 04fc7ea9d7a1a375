"""Use cases: plain Python, no HTTP. Each takes `(db, deps, ...)` and runs inside the caller's transaction."""
