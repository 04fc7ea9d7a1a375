"""Queries: `(db: Session, ...) -> Model | None`. May flush, never commits."""
