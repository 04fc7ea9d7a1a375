"""SQLAlchemy tables. No queries, no commits, no rules beyond validity."""

from frontdesk.models.audit import AuthEvent as AuthEvent
from frontdesk.models.base import Base as Base
from frontdesk.models.challenges import SecondFactorChallenge as SecondFactorChallenge
from frontdesk.models.challenges import WebAuthnChallenge as WebAuthnChallenge
from frontdesk.models.factors import RecoveryCode as RecoveryCode
from frontdesk.models.factors import TotpFactor as TotpFactor
from frontdesk.models.factors import WebAuthnCredential as WebAuthnCredential
from frontdesk.models.identity import Identity as Identity
from frontdesk.models.identity import OAuthFlow as OAuthFlow
from frontdesk.models.lifecycle import AccountRestoreToken as AccountRestoreToken
from frontdesk.models.lifecycle import EmailChangeToken as EmailChangeToken
from frontdesk.models.lifecycle import EmailRevertToken as EmailRevertToken
from frontdesk.models.notices import NewDeviceNotice as NewDeviceNotice
from frontdesk.models.notices import SignInDevice as SignInDevice
from frontdesk.models.outbox import OutboxEmail as OutboxEmail
from frontdesk.models.ratelimit import RateLimitBucket as RateLimitBucket
from frontdesk.models.session import UserSession as UserSession
from frontdesk.models.tokens import LoginToken as LoginToken
from frontdesk.models.tokens import PasswordResetToken as PasswordResetToken
from frontdesk.models.tokens import SignupToken as SignupToken
from frontdesk.models.user import User as User
