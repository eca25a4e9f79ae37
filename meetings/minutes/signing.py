"""PAdES signatures on the minutes PDF (pyHanko), and their verification.

The signing certificate is a PKCS#12 file given in the settings. Verification trusts the
root(s) of that file's own chain, so a province running its own CA (or the government CA
chain packed with the certificate) gets "trusted" without any network access; pyHanko never
fetches revocation data here (``allow_fetching`` stays off: closed networks).
"""

import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from meetings.errors import DomainError

FIELD_NAME = "MinutesApproval"


class SigningUnavailable(DomainError):
    """The configured signing certificate cannot be used (missing file, wrong passphrase)."""

    code = "signing_unavailable"


@dataclass(frozen=True)
class MinutesSigner:
    """Key material loaded once from the PKCS#12 file, and the roots verification trusts."""

    signer: signers.SimpleSigner
    trust_roots: tuple[asn1_x509.Certificate, ...]

    @property
    def subject(self) -> str:
        """The signer certificate's subject, human-readable."""
        return _subject(self.signer.signing_cert)


def _subject(cert: asn1_x509.Certificate) -> str:
    return str(cert.subject.human_friendly)


def _to_asn1(cert: object) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))  # type: ignore[attr-defined]


def load_signer(path: Path, passphrase: str | None) -> MinutesSigner:
    """Read the PKCS#12 file; raise ``SigningUnavailable`` saying what is wrong."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningUnavailable(
            f"the minutes signing certificate cannot be read ({exc.strerror})", path=str(path)
        ) from exc
    secret = passphrase.encode("utf-8") if passphrase is not None else None
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, secret)
    except ValueError as exc:
        raise SigningUnavailable(
            "the minutes signing certificate cannot be opened"
            " (wrong passphrase or not a PKCS#12 file)",
            path=str(path),
        ) from exc
    if key is None or cert is None:
        raise SigningUnavailable(
            "the minutes signing certificate holds no private key to sign with", path=str(path)
        )
    signer = signers.SimpleSigner.load_pkcs12_data(data, other_certs=None, passphrase=secret)
    chain = [_to_asn1(c) for c in extra]
    signing_cert = _to_asn1(cert)
    roots = tuple(c for c in chain if c.self_signed) or ((chain[-1],) if chain else (signing_cert,))
    return MinutesSigner(signer, roots)


def sign(pdf: bytes, minutes_signer: MinutesSigner, *, reason: str, location: str = "") -> bytes:
    """The PDF with a PAdES baseline (B-B) signature appended as an incremental update."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason,
        location=location or None,
    )
    out = signers.sign_pdf(writer, meta, signer=minutes_signer.signer)
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class SignatureReport:
    """What pyHanko found about one embedded signature."""

    intact: bool  # the signed bytes hash to what the signature says
    valid: bool  # ...and the cryptographic signature over that hash checks out
    trusted: bool  # ...and the signer chains to a configured root
    covers_whole_file: bool  # nothing was appended after signing
    signer: str
    signing_time: datetime | None
    summary: str

    @property
    def ok(self) -> bool:
        """Intact, valid, trusted and covering the whole file."""
        return self.intact and self.valid and self.trusted and self.covers_whole_file


def verify(
    pdf: bytes, trust_roots: tuple[asn1_x509.Certificate, ...] = ()
) -> list[SignatureReport]:
    """Check every signature of ``pdf``; a damaged file reports a failed (not a missing) one.

    Raises ``ValueError`` only when the bytes are not a PDF at all.
    """
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        embedded = list(reader.embedded_signatures)
    except Exception as exc:  # pyHanko raises several types for a broken file
        raise ValueError(f"the file cannot be read as a PDF: {exc}") from exc
    reports = []
    for sig in embedded:
        context = ValidationContext(trust_roots=list(trust_roots), allow_fetching=False)
        try:
            status = validate_pdf_signature(sig, context)
        except Exception as exc:  # a tampered signature dictionary or CMS blob
            reports.append(
                SignatureReport(False, False, False, False, "", None, f"unreadable: {exc}")
            )
            continue
        reports.append(
            SignatureReport(
                intact=bool(status.intact),
                valid=bool(status.valid),
                trusted=bool(status.trusted),
                covers_whole_file=status.coverage is not None
                and status.coverage.name == "ENTIRE_FILE",
                signer=_subject(status.signing_cert),
                signing_time=status.signer_reported_dt,
                summary=status.summary(),
            )
        )
    return reports
