"""Alembic environment and dated revisions of the pronscore schema."""

from pathlib import Path

from alembic.config import Config


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration for this package's revisions, needing no alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Report views are created by revisions and are not part of the ORM metadata."""
    is_view = type_ == "table" and reflected and compare_to is None and (name or "").startswith("report_")
    return not is_view
