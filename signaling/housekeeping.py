"""Periodic upkeep: delete expired browser sessions."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

from sqlmodel.ext.asyncio.session import AsyncSession

from signaling.auth.sessions import purge_expired
from signaling.logs import get_logger

log = get_logger("phonghop.housekeeping")


async def _loop(
    transaction: Callable[[], AbstractAsyncContextManager[AsyncSession]], every: float
) -> None:
    while True:
        try:
            async with transaction() as session:
                await purge_expired(session)
        except Exception:  # a database hiccup must not end upkeep for good
            log.exception("housekeeping.failed")
        await asyncio.sleep(every)


@contextlib.asynccontextmanager
async def running(
    transaction: Callable[[], AbstractAsyncContextManager[AsyncSession]], every: float = 900.0
) -> AsyncIterator[None]:
    """Run upkeep in the background for the lifetime of the block."""
    task = asyncio.create_task(_loop(transaction, every), name="housekeeping")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
