"""Where the site reads from: the report views, as the read-only role, so a page never shows
what SQL through that role would not."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from pronscore.settings import Settings

REPORT_ROLE = "pronscore_report"


def report_database_url(settings: Settings) -> str:
    """PRONSCORE_REPORT_DATABASE_URL, else the database URL with the read-only role as its user."""
    if settings.report_database_url:
        return settings.report_database_url
    url = make_url(settings.database_url).set(username=REPORT_ROLE, password=None)
    return url.render_as_string(hide_password=False)
