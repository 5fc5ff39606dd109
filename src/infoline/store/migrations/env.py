"""Alembic environment: migrations run on the connection infoline.store.db.migrate passes in."""

from alembic import context

from infoline.store.schema import Base

connection = context.config.attributes["connection"]
# Batch mode lets ALTER TABLE work on SQLite by copying the table.
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
