"""`python -m frontdesk.mail [--once] [--batch N]`: the mail worker as its own process."""

from frontdesk.mail.process import main

raise SystemExit(main())
