"""The e-mail channel: the IMAP poller, MIME parsing and the SMTP sender."""
