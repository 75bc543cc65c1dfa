"""The vmm's storage: the only vmm code that imports SQLAlchemy/Alembic (import-linter checks)."""
