"""The special mailbox: mail in over IMAP, parsed and answered through the engine, replies out over SMTP."""
