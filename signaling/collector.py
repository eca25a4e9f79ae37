"""Garbage-collector policy of the server process.

Why: CPython's full (generation 2) collection walks every container object in the process,
and a server that has imported aiortc, SQLAlchemy, pydantic, fpdf2 and pyHanko holds
hundreds of thousands of them before the first client connects. Measured with
``bench/votes.py --voters 600``: a full collection every ~1.5 s taking 150-250 ms, during
which no ballot, socket.io message or RTCP packet is handled -- that stall was the vote
acknowledgement p99.

So, once the application has started, everything that exists is moved to the permanent
generation (``gc.freeze``: never scanned again; it is code, schemas and metadata that live as
long as the process), and generation 2 is collected less often. Reference cycles are still
collected: generations 0 and 1 run as usual, and full collections still happen, only rarer
and over what was created since the start.

Only the ``serve`` command installs this: a test process builds many applications and must
not keep each one's objects frozen.
"""

import gc
import time

from aiohttp import web

from signaling.logs import get_logger

log = get_logger("phonghop.collector")

# gen0 allocations, gen1 per gen0, gen2 per gen1 collections (CPython defaults: 700, 10, 10).
THRESHOLDS = (10_000, 20, 50)


async def freeze_startup_objects(app: web.Application) -> None:
    """``on_startup`` hook: collect once, then freeze what the started application holds."""
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    log.info(
        "collector.frozen",
        objects=gc.get_freeze_count(),
        seconds=round(time.perf_counter() - started, 3),
    )


def install(app: web.Application) -> None:
    """Run ``freeze_startup_objects`` after every other startup step (append it last)."""
    app.on_startup.append(freeze_startup_objects)
