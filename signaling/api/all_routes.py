"""Every module that declares REST routes on ``API``: importing this one declares them all.

A feature adds its route module here (one import line).
"""

from signaling.api import (  # noqa: F401  (imported for their route declarations)
    routes_agenda,
    routes_attendance,
    routes_audit,
    routes_auth,
    routes_calendar,
    routes_conclusions,
    routes_directory,
    routes_documents,
    routes_meetings,
    routes_minutes,
    routes_polls,
    routes_recordings,
    routes_speakers,
)
