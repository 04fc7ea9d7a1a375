"""Request and response bodies of the account lifecycle (contract section 7). Strict, as `schemas`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from frontdesk.web.schemas import Strict, Timestamp, Token, _no_nul


class EmailChangeRequest(Strict):
    new_email: Annotated[str, Field(min_length=1, max_length=320), AfterValidator(_no_nul)]


class EmailChangeTokenRequest(Strict):
    token: Token


class EmailResponse(BaseModel):
    """The account's address after a confirmed change."""

    email: str


class DeleteAccountRequest(Strict):
    confirm: bool = Field(default=False, description="Must be true: deleting is not done by accident.")


class DeletionScheduledResponse(BaseModel):
    status: Literal["deletion_scheduled"]
    erase_after: Timestamp = Field(description="When `frontdesk cleanup` may erase the account, unless it is restored.")


class RestoreRequest(Strict):
    token: Token
    remember_device: bool = False
