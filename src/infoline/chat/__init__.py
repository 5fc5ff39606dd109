"""A terminal channel that needs no account: talk to the real assistant from a shell."""
