"""Run Alembic migrations programmatically (`hotline db upgrade`), no alembic.ini needed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at `database_url` to `revision` (creating it if new)."""
    from bot.db import make_engine

    if database_url.startswith("sqlite"):
        make_engine(database_url).dispose()  # creates the folder of the file
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def revision(database_url: str, message: str) -> None:
    """Autogenerate a new revision against the database (a developer's tool)."""
    command.revision(alembic_config(database_url), message=message, autogenerate=True)
