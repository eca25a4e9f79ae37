"""The pages as served: routes, security headers, CSP, no inline code, vendor files.

Every HTML file of web/static is fetched from a real server and parsed: no inline script,
no <style> element, no style or on* attribute (the CSP would block them), and every URL it
references is on the server itself.
"""

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import aiohttp
import pytest

from signaling.app import CONTENT_SECURITY_POLICY
from signaling.static_routes import NODE_MODULES, PAGES, STATIC_DIR, VENDOR_FILES
from tests.harness import Server

EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
URL_ATTRIBUTES = {"src", "href", "action", "formaction", "poster", "data"}


def page_urls() -> list[str]:
    """Every page's URL, with route parameters ("/meetings/{meeting_id:\\d+}") filled in: the
    page itself is the same file for any meeting (the script asks the API about the id)."""
    return [re.sub(r"\{[^}]+\}", "7", path) for path in PAGES]


class PageAudit(HTMLParser):
    """Collects what a CSP-clean page must not contain, and the URLs it references."""

    def __init__(self) -> None:
        super().__init__()
        self.inline_scripts = 0
        self.style_elements = 0
        self.style_attributes: list[str] = []
        self.handlers: list[str] = []
        self.urls: list[str] = []
        self.module_scripts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script":
            if "src" in names:
                if names.get("type") == "module":
                    self.module_scripts.append(names["src"] or "")
            else:
                self.inline_scripts += 1
        if tag == "style":
            self.style_elements += 1
        for name, value in attrs:
            if name == "style":
                self.style_attributes.append(tag)
            if name.startswith("on"):
                self.handlers.append(f"{tag}[{name}]")
            if name in URL_ATTRIBUTES and value:
                self.urls.append(value)


def audit(html: str) -> PageAudit:
    """Parse ``html`` into a ``PageAudit``."""
    parser = PageAudit()
    parser.feed(html)
    parser.close()
    return parser


def html_files() -> list[str]:
    """Every HTML file of the client, as a URL path the server answers."""
    return sorted(
        f"/static/{p.relative_to(STATIC_DIR).as_posix()}" for p in STATIC_DIR.rglob("*.html")
    )


def test_policy_is_the_strict_one() -> None:
    """The policy string the server sends is exactly the agreed strict policy."""
    assert CONTENT_SECURITY_POLICY == EXPECTED_CSP


@pytest.mark.parametrize("path", [*page_urls(), "/static/index.html", "/static/sfu-test.html"])
async def test_pages_carry_csp_and_security_headers(
    server: Server, http: aiohttp.ClientSession, path: str
) -> None:
    """Each page: 200, HTML, the CSP, nosniff, Referrer-Policy, no framing, revalidated."""
    async with http.get(server.url + path) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert response.headers["Content-Security-Policy"] == EXPECTED_CSP
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "no-cache"


async def test_non_html_answers_have_no_csp(server: Server, http: aiohttp.ClientSession) -> None:
    """The CSP is a page's; scripts and API answers still get the other headers."""
    for path in ("/static/js/app/i18n.js", "/api/v1/auth/me"):
        async with http.get(server.url + path) as response:
            assert "Content-Security-Policy" not in response.headers
            assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_served_html_has_no_inline_code_and_only_own_urls(
    server: Server, http: aiohttp.ClientSession
) -> None:
    """Parse every served HTML file: nothing the CSP would block, nothing from elsewhere."""
    paths = [*page_urls(), *html_files()]
    assert "/static/index.html" in paths and "/static/device.html" in paths
    for path in paths:
        async with http.get(server.url + path) as response:
            assert response.status == 200, path
            page = audit(await response.text())
        assert page.inline_scripts == 0, path
        assert page.style_elements == 0, path
        assert page.style_attributes == [], path
        assert page.handlers == [], path
        for url in page.urls:
            parts = urlsplit(url)
            # Relative or root-relative only: no scheme, no host, not even protocol-relative.
            assert not parts.scheme and not parts.netloc, f"{path} references {url}"
        for script in page.module_scripts:
            base = path if path.startswith("/static/") else "/static/index.html"
            target = script if script.startswith("/") else base.rsplit("/", 1)[0] + "/" + script
            async with http.get(server.url + target) as response:
                assert response.status == 200, target
                assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"


@pytest.mark.parametrize("name", ["pdf.min.mjs", "pdf.worker.min.mjs"])
async def test_pdfjs_is_served_as_javascript(
    server: Server, http: aiohttp.ClientSession, name: str
) -> None:
    """PDF.js from web/node_modules, as a module the browser accepts, cached for a day."""
    assert (NODE_MODULES / VENDOR_FILES[name]).is_file(), "run: npm ci --prefix web"
    async with http.get(f"{server.url}/static/vendor/{name}") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
        assert response.headers["Cache-Control"] == "public, max-age=86400"
        body = await response.read()
    assert body == (NODE_MODULES / VENDOR_FILES[name]).read_bytes()


async def test_unknown_page_is_404(server: Server, http: aiohttp.ClientSession) -> None:
    """Only the declared pages exist at the top level."""
    async with http.get(server.url + "/index.html") as response:
        assert response.status == 404
