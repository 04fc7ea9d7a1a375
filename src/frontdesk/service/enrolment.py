"""FRONTDESK_REQUIRE_SECOND_FACTOR (contract section 6): who must have a second factor, and so may
only enrol one until they do.

`none` (the default) covers nobody, `superusers` covers superusers, `everyone` every user. A
covered user without a second factor still signs in (at aal 1), but frontdesk's routes other than
enrolment, their session and sign-out answer 403 `second_factor_required` (decided once, in
`web/deps.py`). `GET /v1/verify` is not affected: a proxy asks `?aal=2` for that.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from frontdesk.service import factors
from frontdesk.service.context import Principal
from frontdesk.service.deps import Deps
from frontdesk.settings import Settings


def covered(settings: Settings, principal: Principal) -> bool:
    """Whether the policy asks this caller's user to have a second factor (no database read)."""
    policy = settings.require_second_factor
    return policy == "everyone" or (policy == "superusers" and principal.is_superuser)


def must_enrol(db: Session, deps: Deps, principal: Principal) -> bool:
    """Whether the caller may only enrol: covered by the policy, and without a second factor."""
    return covered(deps.settings, principal) and not factors.has_second_factor(db, deps, principal.user_id)
