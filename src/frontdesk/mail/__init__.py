"""Email delivery: render, queue in the caller's transaction, and send from a worker."""

from frontdesk.mail.enqueue import enqueue_email as enqueue_email
