"""Message ids for values that templates look up at run time (statuses, reasons, roles).

Written out here so that `make catalogs` extracts them: an id assembled in a template
("console_status_" + status) would be invisible to the extractor.
"""

from __future__ import annotations

from infoline.core.i18n import _

STATUS = {
    "queued": _("console_status_queued"),
    "assigned": _("console_status_assigned"),
    "waiting": _("console_status_waiting"),
    "resolved": _("console_status_resolved"),
}
DELIVERY = {
    "pending": _("console_delivery_pending"),
    "sent": _("console_delivery_sent"),
    "failed": _("console_delivery_failed"),
}
ROLE = {
    "consultant": _("console_role_consultant"),
    "supervisor": _("console_role_supervisor"),
}
