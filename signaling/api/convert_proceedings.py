"""Agenda, speakers and conclusions as clients see them (REST responses, acks and events alike)."""

from typing import Any

from meetings.agenda import CurrentChange
from meetings.models import AgendaItem
from meetings.proceedings_models import Conclusion, SpeakerRequest
from meetings.speakers import SpeakerList
from signaling.api.schemas_proceedings import (
    AgendaCurrentOut,
    AgendaItemOut,
    ConclusionOut,
    CurrentItemOut,
    SpeakerListOut,
    SpeakerOut,
)


def agenda_json(items: list[AgendaItem]) -> list[dict[str, Any]]:
    """The agenda in reading order."""
    return [AgendaItemOut.model_validate(i).model_dump(mode="json") for i in items]


def current_json(change: CurrentChange) -> dict[str, Any]:
    """A move of the current item."""
    return AgendaCurrentOut(
        previous=AgendaItemOut.model_validate(change.previous) if change.previous else None,
        current=AgendaItemOut.model_validate(change.current) if change.current else None,
    ).model_dump(mode="json")


def speaker_out(request: SpeakerRequest, budget: int | None) -> SpeakerOut:
    """One request, with its agenda item's time budget."""
    out = SpeakerOut.model_validate(request)
    out.item_minutes_budget = budget
    return out


def speakers_json(listing: SpeakerList) -> dict[str, Any]:
    """The whole list of speakers, as ``speakers.changed`` carries it."""

    def budget(request: SpeakerRequest) -> int | None:
        item_id = request.agenda_item_id
        return listing.budgets.get(item_id) if item_id is not None else None

    return SpeakerListOut(
        meeting_id=listing.meeting_id,
        now=listing.now,
        speaking=(
            speaker_out(listing.speaking, budget(listing.speaking)) if listing.speaking else None
        ),
        waiting=[speaker_out(r, budget(r)) for r in listing.waiting],
        finished=[speaker_out(r, budget(r)) for r in listing.finished],
        current_item=(
            CurrentItemOut.model_validate(listing.current_item) if listing.current_item else None
        ),
    ).model_dump(mode="json")


def speaker_json(request: SpeakerRequest, budget: int | None) -> dict[str, Any]:
    """One request, with its agenda item's time budget."""
    return speaker_out(request, budget).model_dump(mode="json")


def conclusion_json(conclusion: Conclusion) -> dict[str, Any]:
    """One conclusion."""
    return ConclusionOut.model_validate(conclusion).model_dump(mode="json")
