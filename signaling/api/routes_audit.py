"""The audit log: a meeting's hash chain (hosts, administrators) and verification (admins)."""

from meetings import audit, audit_view
from meetings.permissions import Action
from signaling.api.registry import RequestContext
from signaling.api.schemas_proceedings import (
    AuditPageOut,
    AuditPageQuery,
    AuditVerifyOut,
    AuditVerifyQuery,
)
from signaling.api.table import API
from signaling.logs import get_logger

log = get_logger("phonghop.audit")
TAGS = ("audit",)


@API.route(
    "GET",
    "/meetings/{meeting_id}/audit",
    action=Action.AUDIT_VIEW,
    query=AuditPageQuery,
    response=AuditPageOut,
    summary="The meeting's audit chain, newest first, a page at a time",
    tags=TAGS,
)
async def meeting_audit(ctx: RequestContext) -> dict:
    """Who changed what and when, with before/after and the hashes that chain the entries."""
    assert ctx.meeting is not None
    q: AuditPageQuery = ctx.query
    meeting_id = ctx.meeting.id or 0
    entries = await audit_view.page(ctx.session, meeting_id, q.limit, q.before)
    return {
        "chain": audit.chain_for(meeting_id),
        "entries": [audit_view.as_dict(e) for e in entries],
        # A full page may have older entries; the first sequence number is 1.
        "next_before": entries[-1].seq if len(entries) == q.limit and entries[-1].seq > 1 else None,
    }


@API.route(
    "GET",
    "/audit/verify",
    action=Action.AUDIT_VERIFY,
    query=AuditVerifyQuery,
    response=AuditVerifyOut,
    summary="Recompute every audit chain (or one meeting's) and report what does not add up",
    tags=TAGS,
)
async def verify_audit(ctx: RequestContext) -> dict:
    """``ok`` is true when no chain has a broken link, a changed entry, a gap or a bad head."""
    meeting_id = ctx.query.meeting_id
    chain = audit.chain_for(meeting_id) if meeting_id is not None else None
    reports = await audit.verify(ctx.session, chain)
    chains = [
        {"chain": r.chain, "entries": r.entries, "ok": r.ok, "problems": r.problems}
        for r in reports
    ]
    ok = all(r.ok for r in reports)
    if not ok:
        log.warning("audit.verify_failed", chains=[r.chain for r in reports if not r.ok])
    return {"ok": ok, "chains": chains}
