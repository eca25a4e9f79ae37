"""PDFs for the documents tests and bench, made on the fly (no binaries in the repository)."""

import io

from fpdf import FPDF
from pypdf import PdfWriter

from signaling.fonts import DEFAULT_REGULAR

FONT = DEFAULT_REGULAR  # DejaVu Sans from web/node_modules


def text_pdf(pages: list[str] | int, landscape_every: int = 0) -> bytes:
    """A PDF with one text per page (Unicode, embedded DejaVu), or ``pages`` numbered pages."""
    texts = (
        [f"Trang {i + 1}: báo cáo tình hình" for i in range(pages)]
        if isinstance(pages, int)
        else pages
    )
    pdf = FPDF()
    pdf.add_font("dejavu", fname=str(FONT))
    pdf.set_font("dejavu", size=12)
    for i, text in enumerate(texts):
        landscape = landscape_every and i % landscape_every == 0
        pdf.add_page(orientation="L" if landscape else "P")
        pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def _write(writer: PdfWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypted_pdf() -> bytes:
    """A valid PDF protected with a user password."""
    writer = PdfWriter(clone_from=io.BytesIO(text_pdf(["Tài liệu có mật khẩu"])))
    writer.encrypt("mat-khau")
    return _write(writer)


def blank_pages_pdf(count: int) -> bytes:
    """A PDF of ``count`` blank pages (cheap to make, e.g. thousands)."""
    writer = PdfWriter()
    for _ in range(count):
        writer.add_blank_page(width=595, height=842)
    return _write(writer)


def raw_pdf(objects: list[bytes]) -> bytes:
    """A hand-assembled PDF with a correct cross-reference table; object 1 is the catalog."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def nested_pdf(depth: int) -> bytes:
    """One page whose dictionary holds arrays nested ``depth`` deep."""
    nest = b"[" * depth + b"]" * depth
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Deep " + nest + b" >>",
        ]
    )


def deep_page_tree_pdf(depth: int) -> bytes:
    """A page tree ``depth`` levels deep with one page at the bottom."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for level in range(depth):
        objects.append(f"<< /Type /Pages /Kids [{level + 3} 0 R] /Count 1 >>".encode())
    objects.append(b"<< /Type /Page /MediaBox [0 0 595 842] >>")
    return raw_pdf(objects)
