"""The special mailbox: mail in over IMAP, answered through the engine, out over SMTP."""
