"""Confidential copies: every page stamped with the recipient's name, unit and the time.

The stamp is drawn once per distinct page size with fpdf2 (an embedded Unicode TTF font, so
Vietnamese names come out right), turned into a PDF Form XObject, and painted over each page
by appending one tiny content stream. The pages' own content streams are never parsed or
re-encoded, which keeps stamping a 100-page document well under a second.
"""

import io
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from fpdf import FPDF
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    NameObject,
    PdfObject,
)

_STAMP_NAME = NameObject("/PhonghopStamp")
_PT_PER_MM = 72 / 25.4


@dataclass(frozen=True, slots=True)
class StampText:
    """What a confidential copy carries on every page."""

    headline: str  # large, diagonal, e.g. the recipient's name
    footer: str  # one line at the bottom of the page: recipient, unit, time


def _overlay_pdf(sizes: list[tuple[float, float]], text: StampText, font: Path) -> bytes:
    """One overlay page per (width, height) in points, as displayed (rotation applied)."""
    pdf = FPDF(unit="pt")
    pdf.set_compression(True)
    pdf.add_font("stamp", fname=str(font))
    pdf.set_text_shaping(False)  # Vietnamese needs no shaping; precomposed NFC glyphs suffice
    for width, height in sizes:
        pdf.add_page(format=(width, height))
        pdf.set_auto_page_break(False)
        # Diagonal headline, light and translucent so the page stays readable.
        size = max(10.0, min(width, height) / 18)
        pdf.set_font("stamp", size=size)
        angle = math.degrees(math.atan2(height, width))
        with pdf.local_context(fill_opacity=0.18, text_color=(200, 0, 0)):
            with pdf.rotation(angle, x=width / 2, y=height / 2):
                headline_width = pdf.get_string_width(text.headline)
                pdf.text(width / 2 - headline_width / 2, height / 2 + size / 3, text.headline)
        # Footer on every page: who received this copy and when.
        footer_size = max(6.0, min(9.0, width / 70))
        pdf.set_font("stamp", size=footer_size)
        with pdf.local_context(text_color=(170, 0, 0)):
            footer_width = pdf.get_string_width(text.footer)
            scale = min(1.0, (width - 20) / footer_width) if footer_width else 1.0
            if scale < 1.0:
                pdf.set_font("stamp", size=footer_size * scale)
                footer_width = pdf.get_string_width(text.footer)
            pdf.text((width - footer_width) / 2, height - 4 * _PT_PER_MM, text.footer)
    return bytes(pdf.output())


def _page_geometry(page: DictionaryObject) -> tuple[float, float, float, float, int]:
    """(x0, y0, width, height, rotation) of the page's media box."""
    box = page.mediabox
    rotation = int(page.get("/Rotate", 0) or 0) % 360
    return float(box.left), float(box.bottom), float(box.width), float(box.height), rotation


def _placement(x0: float, y0: float, w: float, h: float, rotation: int) -> list[float]:
    """The ``cm`` matrix mapping overlay coordinates (as displayed) to the page's user space."""
    if rotation == 90:
        matrix = [0.0, 1.0, -1.0, 0.0, w, 0.0]
    elif rotation == 180:
        matrix = [-1.0, 0.0, 0.0, -1.0, w, h]
    elif rotation == 270:
        matrix = [0.0, -1.0, 1.0, 0.0, 0.0, h]
    else:
        matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    matrix[4] += x0
    matrix[5] += y0
    return matrix


def _form_xobject(writer: PdfWriter, overlay_page: DictionaryObject) -> PdfObject:
    """Turn one overlay page into a Form XObject held by ``writer``; returns its reference."""
    form = DecodedStreamObject()
    form.set_data(overlay_page.get_contents().get_data())  # type: ignore[union-attr]
    box = overlay_page.mediabox
    form.update(
        {
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Form"),
            NameObject("/BBox"): ArrayObject(
                [FloatObject(0), FloatObject(0), FloatObject(box.width), FloatObject(box.height)]
            ),
            NameObject("/Resources"): overlay_page["/Resources"].clone(writer),
        }
    )
    return writer._add_object(form)


def _stream(writer: PdfWriter, data: bytes) -> PdfObject:
    stream = DecodedStreamObject()
    stream.set_data(data)
    return writer._add_object(stream)


def stamp_pdf(source: Path, target: Path, text: StampText, font: Path) -> int:
    """Write ``source`` with every page stamped to ``target``; returns the page count.

    Runs in a worker thread (CPU-bound). ``target`` is written whole or not at all by the
    caller's temp-file-and-rename.
    """
    reader = PdfReader(source)
    writer = PdfWriter(clone_from=reader)
    geometries = [_page_geometry(page) for page in writer.pages]
    sizes: list[tuple[float, float]] = []
    for _, _, w, h, rotation in geometries:
        shown = (h, w) if rotation in (90, 270) else (w, h)
        if shown not in sizes:
            sizes.append(shown)
    overlay = PdfReader(io.BytesIO(_overlay_pdf(sizes, text, font)))
    forms = {size: _form_xobject(writer, overlay.pages[i]) for i, size in enumerate(sizes)}
    # Isolate the page's own graphics state, so an unbalanced q/Q in it cannot move the stamp.
    save = _stream(writer, b"q\n")
    for page, (x0, y0, w, h, rotation) in zip(writer.pages, geometries, strict=True):
        shown = (h, w) if rotation in (90, 270) else (w, h)
        matrix = " ".join(f"{v:.4f}" for v in _placement(x0, y0, w, h, rotation))
        paint = _stream(writer, f"Q\nq {matrix} cm {_STAMP_NAME} Do Q\n".encode())
        resources = page.get("/Resources")
        resources = resources.get_object() if resources is not None else DictionaryObject()
        resources = resources.clone(writer) if resources.indirect_reference is None else resources
        xobjects = resources.get("/XObject")
        xobjects = xobjects.get_object() if xobjects is not None else DictionaryObject()
        xobjects = DictionaryObject(dict(xobjects))  # a page-own copy: the dict may be shared
        xobjects[_STAMP_NAME] = forms[shown]
        resources = DictionaryObject(dict(resources))
        resources[NameObject("/XObject")] = xobjects
        page[NameObject("/Resources")] = resources
        contents = page.get("/Contents")
        existing: list[PdfObject] = []
        if contents is not None:
            resolved = contents.get_object()
            existing = list(resolved) if isinstance(resolved, ArrayObject) else [contents]
        page[NameObject("/Contents")] = ArrayObject([save, *existing, paint])
    with target.open("wb") as out:
        writer.write(out)
    return len(geometries)


# Vietnam keeps UTC+7 all year (no daylight saving), so a fixed offset is exact.
VIETNAM_TIME = timezone(timedelta(hours=7), "ICT")


def stamp_text_for(recipient: str, unit: str, at: datetime) -> StampText:
    """The stamp of one recipient's copy (printed on the document, so in Vietnamese)."""
    when = at.astimezone(VIETNAM_TIME).strftime("%H:%M %d/%m/%Y")
    return StampText(
        headline=f"MẬT · {recipient}",
        footer=f"Tài liệu mật cấp riêng cho {recipient} ({unit}) lúc {when} (giờ Việt Nam)."
        " Không sao chép, không chuyển cho người khác.",
    )
