from alembic import context

from podsift.store.db import search_index_object
from podsift.store.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    # The full-text index (0016) lives outside the models: autogenerate must not drop it.
    include_object=lambda obj, name, type_, reflected, compare_to: not search_index_object(name, type_),
)
with context.begin_transaction():
    context.run_migrations()
