"""What a use case needs to know about the request that caused it."""

from __future__ import annotations

from dataclasses import dataclass, field

from frontdesk.store.sessions import Principal as Principal


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Where a request came from: recorded on sessions and audit events, shown in security emails."""

    ip_address: str | None = None
    user_agent: str | None = None
    # the browser's signed device cookie, if it sent one (see `service/known_devices.py`)
    device: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # bounded so one absurd header can't bloat a row; columns are 64 / 512 characters
        if self.ip_address is not None and len(self.ip_address) > 64:
            object.__setattr__(self, "ip_address", self.ip_address[:64])
        if self.user_agent is not None and len(self.user_agent) > 512:
            object.__setattr__(self, "user_agent", self.user_agent[:512])
        if self.device is not None and len(self.device) > 512:
            object.__setattr__(self, "device", None)


NO_CONTEXT = RequestContext()
