"""Mutants that change no behaviour, by (module, cosmic-ray operator, occurrence): not counted in
the score. Each has its one-line reason here and in docs/testing.md."""

from __future__ import annotations

_ANNOTATION = "the `|` of a type annotation (never evaluated: `from __future__ import annotations`)"
CSRF = "src/frontdesk/web/pages/csrf.py"
CRYPTO = "src/frontdesk/crypto.py"
NEXTPATH = "src/frontdesk/web/pages/nextpath.py"
RECOVERY = "src/frontdesk/service/recovery.py"
TOTP = "src/frontdesk/service/totp.py"
LOGIN = "src/frontdesk/service/login.py"
SESSION = "src/frontdesk/models/session.py"
LINKS = "src/frontdesk/service/links.py"
RATELIMIT = "src/frontdesk/service/ratelimit.py"
SESSION_STORE = "src/frontdesk/store/sessions.py"
CREDENTIALS = "src/frontdesk/web/credentials.py"
AUTHN = "src/frontdesk/web/authn.py"
SECOND_FACTOR = "src/frontdesk/service/second_factor.py"
_CHALLENGE_LENGTH = (
    "the `0 < len(challenge) <= 512` guard only spares a lookup: a challenge it lets through is looked up and "
    "found nowhere, the same TokenInvalid (or None); real challenges are 43 characters"
)
_SMALL_INT = (
    "`is` for `==` between small ints (a length and a constant): CPython keeps one int object each from -5 to 256"
)
_SAME_VALUE = "`1 + 12 (+ 16)` written with `|` or `^` has the same value (13, 29): no bit of the operands overlaps"
_SHORT_BOX = (
    "a lower minimum box length (13 to 28, not 29) changes nothing: a box that holds the 12-byte nonce but not "
    "the 16-byte tag still fails, since AES-GCM refuses a ciphertext shorter than its tag (SealBroken)"
)
_ONE_CPU_OR_MORE = "`max(1, n)` with n >= 1 already (a CPU count, or `or 1`): the floor changes nothing"

EQUIVALENT: dict[tuple[str, str, int], str] = {
    **{
        (CSRF, f"core/ReplaceBinaryOperator_BitOr_{op}", 0): _ANNOTATION
        for op in ("Add", "Mul", "Mod", "LShift", "BitXor")
    },
    **{
        (CRYPTO, op, occurrence): _SHORT_BOX
        for op, occurrence in (
            ("core/ReplaceBinaryOperator_Add_Mul", 5),  # 1 * 12 + 16 = 28
            ("core/ReplaceBinaryOperator_Add_Div", 5),  # 16.08
            ("core/ReplaceBinaryOperator_Add_FloorDiv", 5),  # 16
            ("core/ReplaceBinaryOperator_Add_Mod", 5),  # 17
            ("core/ReplaceBinaryOperator_Add_Pow", 5),  # 17
            ("core/ReplaceBinaryOperator_Add_Mod", 6),  # 1 + 12 % 16 = 13
            ("core/NumberReplacer", 19),  # 0 + 12 + 16
            ("core/NumberReplacer", 21),  # 1 + 12 + 15
        )
    },
    **{
        (CRYPTO, op, occurrence): (
            "`max_waiting >= 0` (or `> -1`): a queue of 0 (`BoundedSemaphore(0)`) refuses every hash, as no queue does"
        )
        for op, occurrence in (("core/ReplaceComparisonOperator_Gt_GtE", 1), ("core/NumberReplacer", 49))
    },
    (CRYPTO, "core/ReplaceTrueWithFalse", 1): (
        "`Argon2Parameters` without `slots`: frozen, it refuses new attributes either way; only its memory differs"
    ),
    (CRYPTO, "core/NumberReplacer", 51): "the decoy hash's random password is 15 bytes instead of 16: still unknown",
    **{
        (TOTP, op, 0): (
            "`len(code) > 6` or `< 6` lets a code of another length on: it equals no 6-digit code (`compare_digest`)"
        )
        for op in ("core/ReplaceComparisonOperator_NotEq_Gt", "core/ReplaceComparisonOperator_NotEq_Lt")
    },
    (TOTP, "core/ReplaceComparisonOperator_NotEq_IsNot", 0): _SMALL_INT,
    (TOTP, "core/ReplaceTrueWithFalse", 1): (
        "`TotpEnrolment` without `slots`: frozen, it refuses new attributes either way; only its memory differs"
    ),
    (CRYPTO, "core/ReplaceBinaryOperator_Add_BitOr", 5): _SAME_VALUE,
    (CRYPTO, "core/ReplaceBinaryOperator_Add_BitXor", 5): _SAME_VALUE,
    (CRYPTO, "core/ReplaceBinaryOperator_Add_BitOr", 6): _SAME_VALUE,
    (CRYPTO, "core/ReplaceBinaryOperator_Add_BitXor", 6): _SAME_VALUE,
    (CRYPTO, "core/ReplaceBinaryOperator_Add_BitOr", 7): _SAME_VALUE,
    (CRYPTO, "core/ReplaceBinaryOperator_Add_BitXor", 7): _SAME_VALUE,
    (CRYPTO, "core/ReplaceBinaryOperator_Add_BitOr", 8): _SAME_VALUE,
    (CRYPTO, "core/ReplaceBinaryOperator_Add_BitXor", 8): _SAME_VALUE,
    (CRYPTO, "core/ReplaceComparisonOperator_NotEq_IsNot", 0): (
        "`box[:1] is not b'\\x01'`: CPython keeps one object per one-byte bytes value, so identity is equality here"
    ),
    (CRYPTO, "core/NumberReplacer", 39): _ONE_CPU_OR_MORE,
    (CRYPTO, "core/NumberReplacer", 43): _ONE_CPU_OR_MORE,
    (CRYPTO, "core/NumberReplacer", 45): _ONE_CPU_OR_MORE,
    (CRYPTO, "core/NumberReplacer", 50): "the decoy hash's random password is 17 bytes instead of 16: still unknown",
    (NEXTPATH, "core/ReplaceComparisonOperator_Eq_GtE", 0): (
        '`scheme >= "https"` where the scheme is already known to be "http" or "https": the same answer for both'
    ),
    (RECOVERY, "core/ReplaceComparisonOperator_NotEq_IsNot", 0): _SMALL_INT,
    (LOGIN, "core/ReplaceOrWithAnd", 1): (
        "the unreachable guard `visible is None or account_bucket is None` with `and`: the bucket is None "
        "exactly when `visible` is"
    ),
    **{
        (SECOND_FACTOR, f"core/ReplaceComparisonOperator_{op}", occurrence): _CHALLENGE_LENGTH
        for op in ("Lt_LtE", "Lt_NotEq", "Lt_IsNot", "LtE_Lt", "LtE_NotEq", "LtE_IsNot")
        for occurrence in (0, 1)  # lines 57 and 138
    },
    (SECOND_FACTOR, "core/ReplaceComparisonOperator_Eq_GtE", 0): (
        '`purpose >= "reset"` where a purpose is "login" or "reset" (`challenges.PURPOSES`): the same answer'
    ),
    (SECOND_FACTOR, "core/NumberReplacer", 3): "`given[-1]` of a list just checked to hold one item is `given[0]`",
    # 0 -> 1 or -1 and 512 -> 513 or 511, on lines 57 (6 to 9) and 138 (10 to 13)
    **{(SECOND_FACTOR, "core/NumberReplacer", occurrence): _CHALLENGE_LENGTH for occurrence in range(6, 14)},
    **{
        (CREDENTIALS, op, 0): (
            "`end != 0` or `>= 0` for `end > 0`: the `]` of a text that starts with `[` is at -1 or at 1 or more"
        )
        for op in ("core/ReplaceComparisonOperator_Gt_NotEq", "core/ReplaceComparisonOperator_Gt_GtE")
    },
    (CREDENTIALS, "core/NumberReplacer", 3): (
        "`end > -1` is `end >= 0`: the `]` of a text that starts with `[` is at -1 or at 1 or more"
    ),
    (AUTHN, "core/ReplaceComparisonOperator_Eq_LtE", 0): (
        '`kind <= "bearer"` where a kind is "cookie" or "bearer": the same answer for both'
    ),
    (CREDENTIALS, "core/NumberReplacer", 2): (
        "`end > 1`: `end == 1` is the text `[]`, refused either way (an empty address, or the rest `x`)"
    ),
    (CREDENTIALS, "core/NumberReplacer", 13): (
        "`hops[-1]` for `hops[0]` in a truth test: there every hop was read (an unreadable one returned the peer)"
    ),
    **{
        (AUTHN, "core/ReplaceTrueWithFalse", occurrence): (
            f"`{name}` without `slots`: frozen, it refuses new attributes either way; only its memory differs"
        )
        for occurrence, name in ((1, "Credential"), (3, "Refused"))
    },
    (SESSION, "core/RemoveDecorator", 4): (
        "`_is_valid_at_sql` without `@classmethod`: the hybrid calls its SQL expression with the class either way"
    ),
    **{
        (SESSION_STORE, "core/NumberReplacer", occurrence): (
            "`id_bounds` of an empty table as (1, 0) or (0, -1) instead of (0, 0): a range with no rows deletes nothing"
        )
        for occurrence in (0, 3)
    },
    **{
        (LOGIN, "core/NumberReplacer", occurrence): (
            "`tries` without a grant (1 or -1 for 0) is never read: the exhausted check needs a grant"
        )
        for occurrence in (2, 3)
    },
    (LOGIN, "core/ReplaceOrWithAnd", 3): (
        "`grant_id is None and user is None` after `not right or`: a right code implies a grant, and a grant a user"
    ),
    **{
        (LOGIN, "core/ReplaceTrueWithFalse", occurrence): (
            "the private `_Attempt` not frozen, or without slots: nothing assigns to it after it is made"
        )
        for occurrence in (0, 1)
    },
    (LOGIN, "core/ReplaceComparisonOperator_NotEq_IsNot", 0): _SMALL_INT,
    **{
        (LOGIN, op, 0): (
            "`tries == MAX_CODE_ATTEMPTS` (or `is`, small ints) for `>=`: `take_code_attempt` counts only while "
            "`code_attempts < max`, so a grant's tries never pass the maximum"
        )
        for op in ("core/ReplaceComparisonOperator_GtE_Eq", "core/ReplaceComparisonOperator_GtE_Is")
    },
    **{
        (RATELIMIT, "core/ReplaceTrueWithFalse", occurrence): (
            "`Taken` not frozen, or without slots: nothing assigns to one after `take_all` makes it"
        )
        for occurrence in (0, 1)
    },
    (LINKS, "core/ReplaceAndWithOr", 3): (
        "`code is not None or isinstance(row, LoginToken)`: a code exists only with `with_code`, allowed only for "
        "sign-in links, and the one caller making sign-in links always asks for a code: both sides agree for every call"
    ),
    (LINKS, "core/ReplaceComparisonOperator_IsNot_NotEq", 0): (
        "`model != LoginToken` for `is not`: a class is equal only to itself"
    ),
    **{
        (SESSION_STORE, "core/ReplaceTrueWithFalse", occurrence): (
            "the store's `Touch` / `Principal` not frozen, or without slots: nothing in frontdesk assigns to one"
        )
        for occurrence in (0, 1, 2, 3)
    },
    (SESSION_STORE, "core/ReplaceOrWithAnd", 0): (
        "`id_bounds` with `low and 0`: a range from 0 holds the same rows as one from the lowest id (ids start at 1)"
    ),
    **{
        (SESSION_STORE, "core/NumberReplacer", occurrence): (
            "`id_bounds` of an empty table as (-1, 0) or (0, 1): a range with no rows deletes nothing"
        )
        for occurrence in (1, 2)
    },
    (SESSION_STORE, "core/ReplaceComparisonOperator_Eq_LtE", 11): (
        '`dialect.name <= "postgresql"` in the touch: of the two dialects only postgresql passes, as with `==`'
    ),
    (SESSION_STORE, "core/ReplaceComparisonOperator_Lt_LtE", 1): (
        "the SQLite touch's `last_seen <= seen` for `<`: when they are equal, the same value is written"
    ),
    **{
        (CSRF, op, 0 if op != "core/ReplaceOrWithAnd" else 1): (
            "`not presented or len != 64` is a fast path (here `and`, `<` or `>`): an empty or wrong-length token "
            "also fails `hmac.compare_digest` against the 64-character expected one"
        )
        for op in (
            "core/ReplaceOrWithAnd",
            "core/ReplaceComparisonOperator_NotEq_Lt",
            "core/ReplaceComparisonOperator_NotEq_Gt",
        )
    },
}
