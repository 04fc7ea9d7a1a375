"""Mutants that change no behaviour, by (module, cosmic-ray operator, occurrence): not counted in
the score. Each has its one-line reason here and in docs/testing.md."""

from __future__ import annotations

_ANNOTATION = "the `|` of a type annotation (never evaluated: `from __future__ import annotations`)"
CSRF = "src/frontdesk/web/pages/csrf.py"

EQUIVALENT: dict[tuple[str, str, int], str] = {
    **{
        (CSRF, f"core/ReplaceBinaryOperator_BitOr_{op}", 0): _ANNOTATION
        for op in ("Add", "Mul", "Mod", "LShift", "BitXor")
    },
    (CSRF, "core/ReplaceOrWithAnd", 1): (
        "`not presented or len != 64` is a fast path: an empty or wrong-length token also fails "
        "`hmac.compare_digest` against the 64-character expected one"
    ),
}
