"""The gateway's own keys: a CA, and below it a receipt-signing, a timestamping (TSA) and an
AVDH seal certificate.

``ensure_keys`` creates them under ``KAPU_DATA_DIR/keys`` when absent (the embedded default and
``kapu keys init``); production names PEM or PKCS#12 files in settings and ``load_keys`` refuses
to start without them.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_YEARS = 20
LEAF_YEARS = 5
# The receipt-signing, TSA and AVDH seal keys: RSA or ECDSA P-256, which signs about ten
# times faster; xmlsec1 and openssl ts verify both. Receipts are RSA by default (the
# contract's RSA-SHA256); timestamp tokens ECDSA, their key type being free: an RSA-2048
# token cost the signing process 0.49 ms against 0.06 ms (2026-12-06, this machine), most of
# what evidence adds to an upload after the receipt's own signature.
SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
ALGORITHMS = ("rsa", "ecdsa")


@dataclass(frozen=True)
class GatewayKeys:
    ca_cert: x509.Certificate
    signing_key: SigningKey
    signing_cert: x509.Certificate
    tsa_key: SigningKey
    tsa_cert: x509.Certificate
    # The AVDH seal (contract 23): signs the hitelesített PDFs.
    avdh_key: SigningKey
    avdh_cert: x509.Certificate

    @property
    def ca_pem(self) -> bytes:
        return self.ca_cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "HU"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Kapu"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _certificate(
    subject: str, key: SigningKey, issuer: x509.Name, issuer_key: rsa.RSAPrivateKey,
    *, now: dt.datetime, years: int, ca: bool,
    extended_usage: x509.ObjectIdentifier | None = None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject)).issuer_name(issuer)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer_key.public_key()), critical=False)
    )
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
    else:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=True, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
    if extended_usage is not None:
        # RFC 3161: a TSA certificate has exactly one extended key usage, critical.
        builder = builder.add_extension(x509.ExtendedKeyUsage([extended_usage]), critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, data: bytes, *, secret: bool) -> None:
    path.write_bytes(data)
    if secret:
        os.chmod(path, 0o600)


def _key_pem(key: SigningKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


FILES = ("ca.pem", "signing.pem", "signing.key.pem", "tsa.pem", "tsa.key.pem", "avdh.pem",
         "avdh.key.pem")
# The AVDH seal came later: a directory without it gets one from its own CA (ca.key.pem).
LATER_FILES = ("avdh.pem", "avdh.key.pem")


def ensure_keys(directory: Path, *, now: dt.datetime | None = None, algorithm: str = "rsa",
                tsa_algorithm: str = "ecdsa") -> tuple[GatewayKeys, bool]:
    """The keys in ``directory``, created first if absent (valid from ``now``, by default the
    system's time; receipt-signing and AVDH seal keys of ``algorithm``, the TSA key of
    ``tsa_algorithm``). Returns (keys, created).

    Several processes may start at once on a fresh directory: a lock file makes one of them
    create the keys and the others read them, never a mix of two sets."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if all((directory / name).exists() for name in FILES):
            return read_pem_dir(directory), False
        earlier = [name for name in FILES if name not in LATER_FILES]
        if all((directory / name).exists() for name in earlier) \
                and (directory / "ca.key.pem").exists():
            _issue_avdh_seal(directory, now or dt.datetime.now(dt.UTC), algorithm)
            return read_pem_dir(directory), False
        created = _create(directory, now or dt.datetime.now(dt.UTC), algorithm, tsa_algorithm)
        return created, True


def _new_key(algorithm: str) -> SigningKey:
    if algorithm == "ecdsa":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"no such key algorithm: {algorithm!r} (choose from {ALGORITHMS})")


def _create(directory: Path, now: dt.datetime, algorithm: str,
            tsa_algorithm: str) -> GatewayKeys:
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    ca_cert = _certificate("Kapu gateway CA", ca_key, _name("Kapu gateway CA"), ca_key,
                           now=now, years=CA_YEARS, ca=True)
    # The CA key signs only the leaf certificates: it is kept, owner-readable, for renewal.
    _write(directory / "ca.key.pem", _key_pem(ca_key), secret=True)
    _write(directory / "ca.pem", _cert_pem(ca_cert), secret=False)
    return issue_leaf_keys(directory, ca_key, ca_cert, now=now, algorithm=algorithm,
                           tsa_algorithm=tsa_algorithm)


def issue_leaf_keys(directory: Path, ca_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate, *,
                    now: dt.datetime, algorithm: str = "rsa",
                    tsa_algorithm: str = "ecdsa") -> GatewayKeys:
    """New receipt-signing and AVDH seal keys of ``algorithm`` and a TSA key of
    ``tsa_algorithm`` in ``directory``, certified by the given CA: leaves change, the CA every
    host of a database shares stays."""
    signing_key = _new_key(algorithm)
    signing_cert = _certificate("Kapu receipt signing", signing_key, ca_cert.subject, ca_key,
                                now=now, years=LEAF_YEARS, ca=False)
    tsa_key = _new_key(tsa_algorithm)
    tsa_cert = _certificate("Kapu timestamping authority", tsa_key, ca_cert.subject, ca_key,
                            now=now, years=LEAF_YEARS, ca=False,
                            extended_usage=ExtendedKeyUsageOID.TIME_STAMPING)
    _write(directory / "signing.key.pem", _key_pem(signing_key), secret=True)
    _write(directory / "signing.pem", _cert_pem(signing_cert), secret=False)
    _write(directory / "tsa.key.pem", _key_pem(tsa_key), secret=True)
    _write(directory / "tsa.pem", _cert_pem(tsa_cert), secret=False)
    avdh_key, avdh_cert = _avdh_seal(ca_key, ca_cert, now=now, algorithm=algorithm)
    _write(directory / "avdh.key.pem", _key_pem(avdh_key), secret=True)
    _write(directory / "avdh.pem", _cert_pem(avdh_cert), secret=False)
    return GatewayKeys(ca_cert, signing_key, signing_cert, tsa_key, tsa_cert, avdh_key,
                       avdh_cert)


def _avdh_seal(ca_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate, *, now: dt.datetime,
               algorithm: str) -> tuple[SigningKey, x509.Certificate]:
    key = _new_key(algorithm)
    return key, _certificate("Kapu AVDH seal", key, ca_cert.subject, ca_key, now=now,
                             years=LEAF_YEARS, ca=False)


def _issue_avdh_seal(directory: Path, now: dt.datetime, algorithm: str) -> None:
    """Give a key directory made before the AVDH seal one, issued by its own CA; the other
    keys stay as they are."""
    ca_key = serialization.load_pem_private_key((directory / "ca.key.pem").read_bytes(), None)
    if not isinstance(ca_key, rsa.RSAPrivateKey):
        raise ValueError(f"{directory / 'ca.key.pem'}: the CA key must be RSA")
    ca_cert = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
    key, cert = _avdh_seal(ca_key, ca_cert, now=now, algorithm=algorithm)
    # The certificate last: a directory holds the seal once both files are there.
    _write(directory / "avdh.key.pem", _key_pem(key), secret=True)
    _write(directory / "avdh.pem", _cert_pem(cert), secret=False)


def _signing_key(key: object, source: Path) -> SigningKey:
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048:
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in (
            "secp256r1", "secp384r1", "secp521r1"):
        return key
    raise ValueError(f"{source}: the key must be RSA of at least 2048 bits, or ECDSA on P-256, "
                     "P-384 or P-521")


def read_pem_dir(directory: Path) -> GatewayKeys:
    """The keys in ``directory``; read once per process while the files stay as they are
    (the server and the tests build several runtimes in one process)."""
    stamp = tuple((name, (directory / name).stat().st_mtime_ns) for name in FILES)
    key = (str(directory.resolve()), stamp)
    if key not in _READ:
        _READ[key] = _read_pem_dir(directory)
    return _READ[key]


_READ: dict[tuple[str, tuple[tuple[str, int], ...]], GatewayKeys] = {}


def _own_key(path: Path) -> SigningKey:
    """A key ``ensure_keys`` made (by ``cryptography``) and wrote to its owner-only directory.
    OpenSSL's check of an RSA key's primes, about 55 ms a key, is skipped, as cryptography
    allows for keys one made oneself: every command and server start reads three. Key files
    an operator names (``KeySource``, production) are checked."""
    return _signing_key(serialization.load_pem_private_key(
        path.read_bytes(), None, unsafe_skip_rsa_key_validation=True), path)


def _read_pem_dir(directory: Path) -> GatewayKeys:
    return GatewayKeys(
        ca_cert=x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes()),
        signing_key=_own_key(directory / "signing.key.pem"),
        signing_cert=x509.load_pem_x509_certificate((directory / "signing.pem").read_bytes()),
        tsa_key=_own_key(directory / "tsa.key.pem"),
        tsa_cert=x509.load_pem_x509_certificate((directory / "tsa.pem").read_bytes()),
        avdh_key=_own_key(directory / "avdh.key.pem"),
        avdh_cert=x509.load_pem_x509_certificate((directory / "avdh.pem").read_bytes()),
    )


@dataclass(frozen=True)
class KeySource:
    """Where production keys come from: a PKCS#12 file, or a PEM key and PEM certificate."""

    p12: Path | None = None
    key: Path | None = None
    cert: Path | None = None

    def load(self, password: bytes | None) -> tuple[SigningKey, x509.Certificate]:
        if self.p12 is not None:
            key, cert, _ = pkcs12.load_key_and_certificates(self.p12.read_bytes(), password)
            if cert is None:
                raise ValueError(f"{self.p12} holds no certificate")
            return _signing_key(key, self.p12), cert
        if self.key is None or self.cert is None:
            raise ValueError("give a PKCS#12 file, or both a PEM key and a PEM certificate")
        key = serialization.load_pem_private_key(self.key.read_bytes(), password)
        return _signing_key(key, self.key), x509.load_pem_x509_certificate(self.cert.read_bytes())


def load_keys(
    ca_cert: Path, signing: KeySource, tsa: KeySource, avdh: KeySource, password: bytes | None
) -> GatewayKeys:
    signing_key, signing_cert = signing.load(password)
    tsa_key, tsa_cert = tsa.load(password)
    avdh_key, avdh_cert = avdh.load(password)
    try:
        usage = tsa_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
        fit = list(usage.value) == [ExtendedKeyUsageOID.TIME_STAMPING] and usage.critical
    except x509.ExtensionNotFound:
        fit = False
    if not fit:
        raise ValueError("the TSA certificate needs exactly one critical extended key usage, "
                         "timeStamping")
    return GatewayKeys(x509.load_pem_x509_certificate(ca_cert.read_bytes()), signing_key,
                       signing_cert, tsa_key, tsa_cert, avdh_key, avdh_cert)
