"""Group commit for ballots: those arriving together share one transaction.

A commit costs the same for one ballot as for hundreds (one fsync on SQLite, one WAL flush on
PostgreSQL), and a poll's ballots arrive in a burst right after ``poll.opened``. The writer
keeps one transaction in flight: a ballot that arrives while it runs waits in the queue and
goes into the next one, together with everything else that arrived meanwhile. No ballot waits
for a timer: an idle writer commits the first ballot at once.

Each caller is answered only after the transaction holding its ballot has committed ("nothing
acknowledged is lost"); if the transaction fails, every caller in it gets the exception and
nothing was stored. A voter's second ballot in the same batch is held back for the next one,
where the database's unique receipt refuses it (or applies it as a change, if the poll allows).

The writer keeps the process's memory of open polls (``OpenPolls``): a ballot that memory can
already refuse (a voter outside the poll's snapshot, a bad choice, a receipt this process saw
committed) is answered at once, without joining a transaction.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from sqlmodel.ext.asyncio.session import AsyncSession

from meetings.voting.errors import AlreadyVoted
from meetings.voting.open_polls import OpenPolls
from meetings.voting.service import BallotRequest, CastResult, PollCounts, cast_ballots

Transaction = Callable[[], AbstractAsyncContextManager[AsyncSession]]
OnCommitted = Callable[[list[PollCounts]], Awaitable[None]]
log = logging.getLogger("phonghop.voting")


class BallotWriter:
    """Serialises ballots into as few transactions as the arrival pattern allows."""

    def __init__(
        self,
        transaction: Transaction,
        on_committed: OnCommitted | None = None,
        max_batch: int = 2000,
    ) -> None:
        self._transaction = transaction
        self._on_committed = on_committed
        self._max_batch = max_batch
        self._queue: list[tuple[BallotRequest, asyncio.Future[CastResult]]] = []
        self._task: asyncio.Task[None] | None = None
        self.polls = OpenPolls()
        self.transactions = 0  # committed batches, for metrics and tests
        self.largest_batch = 0
        self.refused_early = 0  # refused from memory, without a transaction

    async def cast(self, request: BallotRequest) -> CastResult:
        """Queue one ballot and wait until its transaction has committed (or refuse it at once
        when the memory of open polls already can)."""
        refusal = self.polls.refusal(
            request.poll_id,
            request.meeting_id,
            request.actor.kind,
            request.actor.id,
            request.choices,
        )
        if refusal is not None:
            self.refused_early += 1
            return CastResult(error=refusal)
        future: asyncio.Future[CastResult] = asyncio.get_running_loop().create_future()
        self._queue.append((request, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="ballot-writer")
        # Shielded: a caller that goes away must not cancel the batch others wait for.
        return await asyncio.shield(future)

    def _take(self) -> list[tuple[BallotRequest, asyncio.Future[CastResult]]]:
        """The next batch: queue order, at most one ballot per (poll, voter)."""
        batch, rest, seen = [], [], set()
        for item in self._queue:
            key = (item[0].poll_id, item[0].actor.key)
            if key in seen or len(batch) >= self._max_batch:
                rest.append(item)
            else:
                seen.add(key)
                batch.append(item)
        self._queue = rest
        return batch

    async def _drain(self) -> None:
        while self._queue:
            batch = self._take()
            try:
                async with self._transaction() as session:
                    outcome = await cast_ballots(
                        session, [request for request, _ in batch], self.polls
                    )
            except BaseException as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            self.transactions += 1
            self.largest_batch = max(self.largest_batch, len(batch))
            for (request, future), result in zip(batch, outcome.results, strict=True):
                if result.error is None or isinstance(result.error, AlreadyVoted):
                    self.polls.committed(request.poll_id, (request.actor.id,))
                if not future.done():
                    future.set_result(result)
            if self._on_committed is not None and outcome.counts:
                try:
                    await self._on_committed(list(outcome.counts.values()))
                except Exception:  # counts are a courtesy; the ballots are committed
                    log.exception("voting.counts_hook_failed")
