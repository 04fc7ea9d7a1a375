"""frontdesk: authentication and sessions for web apps."""

from frontdesk.service.context import Principal as Principal
from frontdesk.settings import Settings as Settings
from frontdesk.web.library import AuthError as AuthError
from frontdesk.web.library import FrontdeskAuth as FrontdeskAuth
