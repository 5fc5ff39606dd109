"""The special mailbox channel: parsing incoming mail and composing threaded replies."""
