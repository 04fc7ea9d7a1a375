"""Email delivery: render, queue in the caller's transaction, and send from a worker.

`enqueue_email` is all a use case needs; the worker, the mailbox and the status are for the
edges (server startup, `frontdesk mail-worker`, `frontdesk mail-status`, `/dev/mail`).
"""

from frontdesk.mail.enqueue import enqueue_email as enqueue_email
from frontdesk.mail.kinds import KINDS as KINDS
from frontdesk.mail.kinds import EmailKind as EmailKind
from frontdesk.mail.kinds import human_duration as human_duration
from frontdesk.mail.mailbox import MailboxEntry as MailboxEntry
from frontdesk.mail.mailbox import list_mailbox as list_mailbox
from frontdesk.mail.mailbox import outbox_status as outbox_status
from frontdesk.mail.mailbox import purge_outbox as purge_outbox
from frontdesk.mail.process import run_worker as run_worker
from frontdesk.mail.process import start_worker as start_worker
from frontdesk.mail.transports import ConsoleTransport as ConsoleTransport
from frontdesk.mail.transports import MemoryTransport as MemoryTransport
from frontdesk.mail.transports import SmtpTransport as SmtpTransport
from frontdesk.mail.transports import Transport as Transport
from frontdesk.mail.transports import transport_from_settings as transport_from_settings
from frontdesk.mail.worker import DeliveryReport as DeliveryReport
from frontdesk.mail.worker import MailWorker as MailWorker
from frontdesk.mail.worker import RetryPolicy as RetryPolicy
from frontdesk.mail.worker import deliver_pending as deliver_pending
from frontdesk.store.outbox import OutboxCounts as OutboxCounts
