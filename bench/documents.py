"""Documents benchmark: stamping confidential copies, and many concurrent downloads.

Starts a real server (``python -m signaling serve``) on a free loopback port with a fresh data
directory and seeds it through the public REST API: a province, ``--readers`` delegate
accounts and a meeting inviting them. Then, all over HTTP as a client would:

1. **Watermark.** A ``--pages``-page PDF (fpdf2, Vietnamese text) is uploaded as confidential
   and published. Each of ``--recipients`` delegates downloads it twice: the first download
   makes their stamped copy (every page stamped with name, unit and time), the second is
   served from the cache. ``watermark_s`` / ``watermark_cached_s`` are the medians of the
   first / second download times (the whole request, the PDF's transfer included).
2. **Downloads.** A ``--file-mb`` MB PDF (pages of incompressible noise images) is uploaded
   and published; ``--downloads`` downloads start at once, spread over ``--procs`` client
   processes, by the delegates in turn. Each one checks the size and SHA-256 of what it got.
   ``download_mb_s`` = all bytes received / the time from the first start to the last end.

Progress goes to stderr; the last line on stdout is one JSON object::

    {"pages", "watermark_s", "watermark_cached_s", "downloads", "download_mb_s", ...}

Usage::

    python bench/documents.py [--pages 100] [--file-mb 20] [--downloads 200] [--procs 2]
        [--database-url postgresql+asyncpg://...]
"""

import argparse
import asyncio
import hashlib
import io
import json
import multiprocessing as mp
import os
import queue
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from benchutil import PhonghopServer, Rest, child_main, cpu_seconds, percentile, stamped_log

log = stamped_log("documents")

# DejaVu Sans from web/node_modules (npm ci --prefix web), as the server uses it.
FONT = Path(__file__).resolve().parents[1] / "web/node_modules/dejavu-fonts-ttf/ttf/DejaVuSans.ttf"
PASSWORD = "reader-" + secrets.token_urlsafe(18)


# ---- test files (made here: no binaries in the repository) --------------------------------


def text_pdf(pages: int) -> bytes:
    """``pages`` A4 pages of Vietnamese text with an embedded Unicode font."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_font("dejavu", fname=str(FONT))
    pdf.set_font("dejavu", size=11)
    paragraph = (
        "Ủy ban nhân dân tỉnh báo cáo tình hình thực hiện nhiệm vụ phát triển kinh tế - xã hội,"
        " bảo đảm quốc phòng, an ninh; kết quả giải ngân vốn đầu tư công và quy hoạch đất đai. "
    )
    for page in range(pages):
        pdf.add_page()
        pdf.multi_cell(0, 6, f"Trang {page + 1}. " + paragraph * 8)
    return bytes(pdf.output())


def noise_pdf(megabytes: int) -> bytes:
    """About ``megabytes`` MB: one page per MiB showing an uncompressed noise image."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject, NumberObject

    writer = PdfWriter()
    side = 1024
    for _ in range(megabytes):
        page = writer.add_blank_page(width=595, height=842)
        image = DecodedStreamObject()
        image.set_data(os.urandom(side * side))
        image.update(
            {
                NameObject("/Type"): NameObject("/XObject"),
                NameObject("/Subtype"): NameObject("/Image"),
                NameObject("/Width"): NumberObject(side),
                NameObject("/Height"): NumberObject(side),
                NameObject("/ColorSpace"): NameObject("/DeviceGray"),
                NameObject("/BitsPerComponent"): NumberObject(8),
            }
        )
        content = DecodedStreamObject()
        content.set_data(b"q 595 0 0 842 0 0 cm /Im0 Do Q")
        xobjects = DictionaryObject({NameObject("/Im0"): writer._add_object(image)})
        page[NameObject("/Resources")] = DictionaryObject({NameObject("/XObject"): xobjects})
        page[NameObject("/Contents")] = writer._add_object(content)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# ---- seeding ------------------------------------------------------------------------------


async def upload(rest: Rest, meeting_id: int, data: bytes, confidential: bool) -> dict:
    """Upload and publish one document; returns it."""
    form = aiohttp.FormData()
    form.add_field("confidential", "true" if confidential else "false")
    form.add_field("file", data, filename="tai-lieu.pdf", content_type="application/pdf")
    headers = {"Authorization": f"Bearer {rest.token}"}
    url = f"{rest.base}/meetings/{meeting_id}/documents"
    async with rest.http.post(url, data=form, headers=headers) as r:
        document = await r.json()
        if r.status != 201:
            raise RuntimeError(f"upload → {r.status}: {document}")
    return await rest.post(f"/meetings/{meeting_id}/documents/{document['id']}/publish", {}, 200)


async def seed(url: str, admin_password: str, readers: int) -> dict[str, Any]:
    """A province, ``readers`` delegates with bearer tokens, and a meeting inviting them."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        admin = Rest(http, url)
        await admin.login("admin", admin_password)
        province = await admin.post("/units", {"name": "Tỉnh Bench", "kind": "province"})
        accounts = []
        for i in range(readers):
            accounts.append(
                await admin.post(
                    "/accounts",
                    {
                        "username": f"bench.reader{i}",
                        "full_name": f"Nguyễn Thị Đại Biểu {i}",
                        "unit_id": province["id"],
                        "role": "delegate",
                        "password": PASSWORD,
                    },
                )
            )
        chair = await admin.post(
            "/accounts",
            {
                "username": "bench.chair",
                "full_name": "Chủ trì Bench",
                "unit_id": province["id"],
                "role": "chair",
                "password": PASSWORD,
            },
        )
        meeting = await admin.post(
            "/meetings",
            {
                "title": "Họp không giấy (bench)",
                "starts_at": datetime.now(UTC).isoformat(),
                "chair_id": chair["id"],
            },
        )
        await admin.post(
            f"/meetings/{meeting['id']}/invitations",
            {"invitees": [{"kind": "account", "id": a["id"]} for a in accounts]},
        )
        tokens = []
        for i in range(readers):
            reader = Rest(http, url)
            await reader.login(f"bench.reader{i}", PASSWORD)
            tokens.append(reader.token)
        log(f"seeded meeting {meeting['id']} with {readers} readers")
        return {"meeting_id": meeting["id"], "admin_token": admin.token, "tokens": tokens}


# ---- timed downloads ----------------------------------------------------------------------


async def fetch(http: aiohttp.ClientSession, url: str, token: str) -> tuple[int, bytes]:
    """One whole download."""
    async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as r:
        return r.status, await r.read()


async def watermark(url: str, tokens: list[str], expected_pages: int) -> tuple[float, float]:
    """Median seconds of first (stamping) and second (cached) downloads per recipient."""
    from pypdf import PdfReader

    first, second = [], []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        for token in tokens:
            t0 = time.perf_counter()
            status, body = await fetch(http, url, token)
            t1 = time.perf_counter()
            status2, body2 = await fetch(http, url, token)
            t2 = time.perf_counter()
            if status != 200 or status2 != 200 or body != body2:
                raise RuntimeError(f"stamped download failed: {status} {status2}")
            if len(PdfReader(io.BytesIO(body)).pages) != expected_pages:
                raise RuntimeError("the stamped copy lost pages")
            first.append(t1 - t0)
            second.append(t2 - t1)
    return statistics.median(first), statistics.median(second)


async def downloader(
    index: int,
    url: str,
    tokens: list[str],
    count: int,
    size: int,
    sha256: str,
    start: Any,
    results: Any,
) -> None:
    """One client process: ``count`` concurrent downloads after the common start signal."""
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=600)
    records: list[dict[str, Any]] = []
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
    ) as http:

        async def one(i: int) -> None:
            token = tokens[(index + i) % len(tokens)]
            began = time.monotonic()
            received, error = 0, None
            try:
                async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as r:
                    digest = hashlib.sha256()
                    async for chunk in r.content.iter_chunked(1 << 20):
                        digest.update(chunk)
                        received += len(chunk)
                    if r.status != 200:
                        error = f"status {r.status}"
                    elif received != size or digest.hexdigest() != sha256:
                        error = f"got {received} bytes, wrong content"
            except Exception as exc:  # counted, not fatal: the bench reports errors
                error = repr(exc)[:200]
            records.append(
                {"began": began, "ended": time.monotonic(), "bytes": received, "error": error}
            )

        cpu_ready = cpu_seconds(os.getpid())
        results.put(("ready", index, None))
        await asyncio.to_thread(start.wait)
        await asyncio.gather(*(one(i) for i in range(count)))
    results.put(("done", index, {"records": records, "cpu": cpu_seconds(os.getpid()) - cpu_ready}))


def collect(results: Any, kind: str, procs: list, within: float) -> dict[int, Any]:
    """One message of ``kind`` from each client process."""
    got: dict[int, Any] = {}
    deadline = time.monotonic() + within
    while len(got) < len(procs):
        try:
            message = results.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"client processes did not report {kind!r}") from None
        if message[0] == "error":
            raise RuntimeError(f"client process {message[1]} failed: {message[2]}")
        if message[0] == kind:
            got[message[1]] = message[2]
    return got


def concurrent_downloads(
    args: argparse.Namespace, url: str, tokens: list[str], data: bytes, server: PhonghopServer
) -> dict[str, Any]:
    """Run the download phase over ``--procs`` processes; summarise it."""
    ctx = mp.get_context("spawn")
    results, start = ctx.Queue(), ctx.Event()
    sha256 = hashlib.sha256(data).hexdigest()
    shares = [
        args.downloads // args.procs + (1 if i < args.downloads % args.procs else 0)
        for i in range(args.procs)
    ]
    procs = [
        ctx.Process(
            target=child_main,
            args=(i, results, downloader, i, url, tokens, n, len(data), sha256, start, results),
            daemon=True,
        )
        for i, n in enumerate(shares)
    ]
    for p in procs:
        p.start()
    try:
        collect(results, "ready", procs, 60)
        server_cpu = server.cpu_seconds()
        start.set()
        done = collect(results, "done", procs, 900)
        server_cpu = server.cpu_seconds() - server_cpu
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    records = [r for d in done.values() for r in d["records"]]
    ok = [r for r in records if r["error"] is None]
    errors = [r["error"] for r in records if r["error"] is not None]
    wall = max(r["ended"] for r in records) - min(r["began"] for r in records)
    total = sum(r["bytes"] for r in ok)
    durations = [r["ended"] - r["began"] for r in ok]
    return {
        "downloads": len(ok),
        "download_errors": len(errors),
        "download_error_samples": errors[:5],
        "download_mb_s": round(total / 1e6 / wall, 1) if wall > 0 else 0.0,
        "download_seconds": round(wall, 3),
        "download_p50_s": round(percentile(durations, 50), 3),
        "download_p99_s": round(percentile(durations, 99), 3),
        "server_cpu_seconds": round(server_cpu, 2),
        "client_cpu_seconds": round(sum(d["cpu"] for d in done.values()), 2),
    }


# ---- main ---------------------------------------------------------------------------------


async def prepare(args: argparse.Namespace, server: PhonghopServer) -> dict[str, Any]:
    """Seed, measure stamping, and upload the large file; returns what the download phase needs."""
    await server.wait_healthy()
    world = await seed(server.url, server.admin_password, max(args.readers, args.recipients))
    meeting_id = world["meeting_id"]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        admin = Rest(http, server.url)
        admin.token = world["admin_token"]
        confidential = await upload(admin, meeting_id, text_pdf(args.pages), confidential=True)
        log(f"uploaded a confidential {args.pages}-page PDF")
        file_url = f"{server.url}/api/v1/meetings/{meeting_id}/documents/{confidential['id']}/file"
        stamped, cached = await watermark(file_url, world["tokens"][: args.recipients], args.pages)
        log(f"watermark: {stamped:.3f} s first, {cached:.3f} s cached")
        large = noise_pdf(args.file_mb)
        document = await upload(admin, meeting_id, large, confidential=False)
        log(f"uploaded a {len(large) / 1e6:.1f} MB PDF")
    big_url = f"{server.url}/api/v1/meetings/{meeting_id}/documents/{document['id']}/file"
    return {
        "watermark_s": round(stamped, 3),
        "watermark_cached_s": round(cached, 3),
        "large": large,
        "big_url": big_url,
        "tokens": world["tokens"],
    }


def main() -> None:
    """Parse options, run the phases, print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--recipients", type=int, default=3)
    parser.add_argument("--file-mb", type=int, default=20)
    parser.add_argument("--downloads", type=int, default=200)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--readers", type=int, default=10, help="delegates sharing downloads")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--server-log-level", default="WARNING")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="phonghop-bench-documents-"))
    server = PhonghopServer(
        workdir,
        database_url=args.database_url,
        redis_url=args.redis_url,
        log_level=args.server_log_level,
    )
    try:
        prepared = asyncio.run(prepare(args, server))
        log(f"{args.downloads} concurrent downloads over {args.procs} processes")
        downloads = concurrent_downloads(
            args, prepared["big_url"], prepared["tokens"], prepared["large"], server
        )
    except BaseException:
        print(server.tail(), file=sys.stderr)
        raise
    finally:
        server.terminate()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    result = {
        "pages": args.pages,
        "watermark_s": prepared["watermark_s"],
        "watermark_cached_s": prepared["watermark_cached_s"],
        **downloads,
        "file_mb": round(len(prepared["large"]) / 1e6, 1),
        "database": "postgresql" if args.database_url else "sqlite",
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
