"""The browser client's files: ``web/static/`` at ``/static/``, npm vendor files beside it,
and the client's pages at their own URLs (``/``, ``/device``).

Closed networks have no CDN, so the few npm packages the client needs are installed into
``web/node_modules`` (``npm ci --prefix web``) and served from here under
``/static/vendor/``. Each file goes out with an explicit content type (the browser refuses
an ES module served as anything but JavaScript, and ``X-Content-Type-Options: nosniff`` is
set on every answer) and an ETag; the client's own files are revalidated on every load
(``no-cache``: a deploy shows at once), vendor files, which change only with an upgrade, are
cached for a day. Every HTML answer also carries the Content-Security-Policy
(``signaling.app.security_headers`` adds it to any ``text/html`` response).
"""

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

import web as web_package

WEB_DIR = Path(web_package.__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
NODE_MODULES = WEB_DIR / "node_modules"

# URL name under /static/vendor/ → file inside web/node_modules.
VENDOR_FILES: dict[str, str] = {
    "socket.io.esm.min.js": "socket.io-client/dist/socket.io.esm.min.js",
    "socket.io.esm.min.js.map": "socket.io-client/dist/socket.io.esm.min.js.map",
    # PDF.js for the documents viewer; the worker is loaded by URL (same origin, CSP 'self').
    "pdf.min.mjs": "pdfjs-dist/build/pdf.min.mjs",
    "pdf.worker.min.mjs": "pdfjs-dist/build/pdf.worker.min.mjs",
    # Its image decoders (the viewer passes wasmUrl "/static/vendor/"): JBIG2 (scanned
    # documents) has no JavaScript fallback, JPEG 2000 falls back to the .js, ICC colours to
    # the alternate colour space.
    "jbig2.wasm": "pdfjs-dist/wasm/jbig2.wasm",
    "openjpeg.wasm": "pdfjs-dist/wasm/openjpeg.wasm",
    "openjpeg_nowasm_fallback.js": "pdfjs-dist/wasm/openjpeg_nowasm_fallback.js",
    "qcms_bg.wasm": "pdfjs-dist/wasm/qcms_bg.wasm",
    # Fonts for PDFs that do not embed theirs (standardFontDataUrl "/static/vendor/"): Symbol
    # and ZapfDingbats always come from here, Liberation Sans when the PC lacks Helvetica/Arial.
    "FoxitSymbol.pfb": "pdfjs-dist/standard_fonts/FoxitSymbol.pfb",
    "FoxitDingbats.pfb": "pdfjs-dist/standard_fonts/FoxitDingbats.pfb",
    "LiberationSans-Regular.ttf": "pdfjs-dist/standard_fonts/LiberationSans-Regular.ttf",
    "LiberationSans-Bold.ttf": "pdfjs-dist/standard_fonts/LiberationSans-Bold.ttf",
    "LiberationSans-Italic.ttf": "pdfjs-dist/standard_fonts/LiberationSans-Italic.ttf",
    "LiberationSans-BoldItalic.ttf": "pdfjs-dist/standard_fonts/LiberationSans-BoldItalic.ttf",
}

# Page URL → HTML file in web/static/ (the app's entry points; their scripts are modules).
PAGES: dict[str, str] = {
    "/": "index.html",
    "/device": "device.html",
    "/admin": "admin.html",
    "/meetings/{meeting_id:\\d+}": "room.html",
    "/meetings/{meeting_id:\\d+}/console": "console.html",
    "/meetings/{meeting_id:\\d+}/recordings": "recordings.html",
}

CONTENT_TYPES: dict[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".txt": "text/plain; charset=utf-8",
    ".wasm": "application/wasm",
}
APP_CACHE = "no-cache"  # revalidate with the ETag each time
VENDOR_CACHE = "public, max-age=86400"


def _file_response(path: Path, cache_control: str) -> web.FileResponse:
    content_type = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
    return web.FileResponse(
        path, headers={"Content-Type": content_type, "Cache-Control": cache_control}
    )


def _resolve(root: Path, relative: str) -> Path:
    """``relative`` inside ``root`` as an existing file, else 404 (no traversal, no dotfiles)."""
    if not relative or any(part.startswith(".") for part in relative.split("/")):
        raise web.HTTPNotFound()
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root.resolve()) or not candidate.is_file():
        raise web.HTTPNotFound()
    return candidate


async def static_file(request: web.Request) -> web.StreamResponse:
    """A file of the browser client (``/static/js/rtc-client.js``, ``/static/sfu-test.html``)."""
    return _file_response(_resolve(STATIC_DIR, request.match_info["path"]), APP_CACHE)


def _page_handler(filename: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A handler serving ``web/static/<filename>`` revalidated on every load."""

    async def page(request: web.Request) -> web.StreamResponse:
        return _file_response(_resolve(STATIC_DIR, filename), APP_CACHE)

    page.__doc__ = f"The page ``{filename}``."
    return page


async def vendor_file(request: web.Request) -> web.StreamResponse:
    """A file from an npm package, by the name the client imports it as."""
    relative = VENDOR_FILES.get(request.match_info["name"])
    if relative is None:
        raise web.HTTPNotFound()
    path = NODE_MODULES / relative
    if not path.is_file():
        # Installed by `npm ci --prefix web` (make run / make test do it).
        raise web.HTTPNotFound(reason="Vendor File Not Installed")
    return _file_response(path, VENDOR_CACHE)


def install(app: web.Application) -> None:
    """Add the pages and the static routes to ``app`` (vendor first: it shadows
    ``/static/vendor/``)."""
    for url, filename in PAGES.items():
        app.router.add_get(url, _page_handler(filename))
    app.router.add_get("/static/vendor/{name}", vendor_file)
    app.router.add_get("/static/{path:.+}", static_file)
