"""The translation catalogues: same keys in both languages, nothing empty, nothing missing.

Keys used by the client are found by regex in web/static: ``data-i18n`` and
``data-i18n-<attribute>`` in HTML and JavaScript, and ``t("...")`` calls in JavaScript. Keys
built at run time from server values (``state.<state>``, ``role.<role>``) are checked against
the server's own enums.
"""

import json
import re
from pathlib import Path

import pytest

from meetings.models import MeetingState, Role
from signaling.static_routes import STATIC_DIR

CATALOGUES = STATIC_DIR / "i18n"
LANGUAGES = ("vi", "en")
KEY_PATTERNS = [
    re.compile(r"""data-i18n(?:-[a-z-]+)?\s*=\s*["']([^"']+)["']"""),
    re.compile(r"""dataset\.i18n\s*=\s*["']([^"']+)["']"""),
    re.compile(r"""\bt\(\s*["']([^"']+)["']"""),
]


def catalogue(lang: str) -> dict[str, str]:
    """One catalogue as loaded by the browser."""
    return json.loads((CATALOGUES / f"{lang}.json").read_text(encoding="utf-8"))


def used_keys() -> dict[str, set[Path]]:
    """Every literal translation key in web/static, with the files using it."""
    found: dict[str, set[Path]] = {}
    for path in STATIC_DIR.rglob("*"):
        if path.suffix not in {".html", ".js", ".mjs"} or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        for pattern in KEY_PATTERNS:
            for key in pattern.findall(text):
                found.setdefault(key, set()).add(path.relative_to(STATIC_DIR))
    return found


def test_catalogues_have_the_same_keys_sorted_and_none_empty() -> None:
    """Both languages render every string; the files stay sorted for small diffs."""
    vi, en = catalogue("vi"), catalogue("en")
    assert set(vi) == set(en), {"only vi": set(vi) - set(en), "only en": set(en) - set(vi)}
    for lang in LANGUAGES:
        text = (CATALOGUES / f"{lang}.json").read_text(encoding="utf-8")
        values = catalogue(lang)
        assert list(values) == sorted(values), f"{lang}.json is not sorted by key"
        assert json.dumps(values, ensure_ascii=False, indent=2, sort_keys=True) + "\n" == text
        empty = [key for key, value in values.items() if not value.strip()]
        assert empty == [], f"{lang}: empty values {empty}"


def test_every_key_used_in_the_client_exists() -> None:
    """No t('...') call or data-i18n attribute names a key the catalogues lack."""
    used = used_keys()
    assert "login.heading" in used and "meetings.join" in used  # the scan finds real uses
    for lang in LANGUAGES:
        values = catalogue(lang)
        missing = {key: sorted(map(str, files)) for key, files in used.items() if key not in values}
        assert missing == {}, f"{lang}: missing keys"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_keys_built_from_server_values_exist(lang: str) -> None:
    """Meeting states and roles come from the API and are translated as state.* / role.*."""
    values = catalogue(lang)
    for state in MeetingState:
        assert f"state.{state.value}" in values
    for role in Role:
        assert f"role.{role.value}" in values
    assert "role.endpoint" in values
    # The room's participant roles (presence meeting_role) and quality levels (quality.js).
    for meeting_role in ("chair", "secretary", "participant", "endpoint"):
        assert f"meeting_role.{meeting_role}" in values
    for level in ("good", "fair", "poor", "none", "unknown"):
        assert f"room.quality.{level}" in values
    # Messages chosen by error code (api.js errorMessage): the codes the shell can meet.
    for code in ("unauthenticated", "forbidden", "not_found", "rate_limited", "csrf_failed"):
        assert f"error.{code}" in values


def test_vietnamese_is_written_with_diacritics() -> None:
    """Proper Vietnamese, not ASCII-folded; English differs where it should."""
    vi, en = catalogue("vi"), catalogue("en")
    assert vi["login.heading"] == "Đăng nhập"
    assert vi["meetings.heading"] == "Cuộc họp của tôi"
    assert vi["state.live"] == "Đang diễn ra"
    assert vi["state.scheduled"] == "Sắp diễn ra"
    assert vi["meetings.join"] == "Tham gia"
    assert en["state.live"] == "Live"
    assert vi["lang.vi"] == en["lang.vi"] == "Tiếng Việt"  # each language named in itself
