"""frontdesk: authentication and sessions for web apps.

The public names (`FrontdeskAuth`, `AuthError`, `Principal`, `Settings`) are loaded on first use,
so `import frontdesk` (or `import frontdesk.errors`) loads no web framework, server or database
driver; `from frontdesk import FrontdeskAuth` then imports the library mode (FastAPI/Starlette).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from frontdesk.service.context import Principal as Principal
    from frontdesk.settings import Settings as Settings
    from frontdesk.web.library import AuthError as AuthError
    from frontdesk.web.library import FrontdeskAuth as FrontdeskAuth

# public name -> the module that defines it
_EXPORTS = {
    "AuthError": "frontdesk.web.library",
    "FrontdeskAuth": "frontdesk.web.library",
    "Principal": "frontdesk.service.context",
    "Settings": "frontdesk.settings",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562) and keep the name here."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'frontdesk' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
