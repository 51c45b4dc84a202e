"""Storage: the async engine and sessions, the declarative base, and Alembic migrations."""

from menagerie.storage.base import Base
from menagerie.storage.database import Database, DatabaseStatus

__all__ = ["Base", "Database", "DatabaseStatus"]
