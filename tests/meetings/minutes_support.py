"""Shared by the minutes tests: the PDF font, text extraction, and a test PKI (a self-signed CA
and a signer certificate packed as PKCS#12, made fresh by each run with ``cryptography``,
never committed)."""

import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pypdf import PdfReader

from meetings.minutes.render import FontSet
from signaling.fonts import DEFAULT_BOLD, DEFAULT_REGULAR

FONTS = FontSet(DEFAULT_REGULAR, DEFAULT_BOLD)


def pdf_text(data: bytes) -> str:
    """Every page's text as pypdf extracts it, the page footers ("Trang 1/3") removed."""
    pages = PdfReader(io.BytesIO(data)).pages
    return re.sub(r"Trang \d+/\d+", " ", "\n".join(p.extract_text() for p in pages))


@dataclass(frozen=True)
class TestPki:
    """Where the PKCS#12 file is, its passphrase, and the CA that issued it."""

    p12: Path
    passphrase: str
    ca: x509.Certificate
    signer: x509.Certificate


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "UBND tỉnh Quảng Ninh"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_pki(directory: Path, passphrase: str = "mật-khẩu-thử", with_chain: bool = True) -> TestPki:
    """A CA and a signer issued by it; the PKCS#12 carries the CA too when ``with_chain``."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("CA thử nghiệm phonghop")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    signer = (
        x509.CertificateBuilder()
        .subject_name(_name("Văn phòng UBND tỉnh"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    data = pkcs12.serialize_key_and_certificates(
        b"minutes",
        key,
        signer,
        [ca] if with_chain else None,
        BestAvailableEncryption(passphrase.encode("utf-8")),
    )
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "minutes-signer.p12"
    path.write_bytes(data)
    return TestPki(path, passphrase, ca, signer)
