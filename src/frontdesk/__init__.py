"""frontdesk: authentication and sessions for web apps."""
