"""The consultant side's domain: accounts, the case queue and its actions, statistics.

Everything here returns frozen dataclasses (`records`), never ORM objects, so that the
console never holds a database session. Every view of a case and every action is
written to the audit log.
"""
