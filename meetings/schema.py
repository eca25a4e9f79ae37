"""Imports every module that declares tables, so ``SQLModel.metadata`` is the whole schema.

Alembic's environment and the schema tests import this one module; a new table module is
added here (one line) and gets its own migration.
"""

import meetings.attendance_models
import meetings.audit
import meetings.documents.models
import meetings.minutes.models
import meetings.models
import meetings.notifications
import meetings.proceedings_models
import meetings.recording_models
import meetings.voting.models  # noqa: F401  (the last import carries the noqa)
