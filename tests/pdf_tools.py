"""The real PDF tools of poppler-utils and NSS, for tests that check hitelesített PDFs (contract
23) the way anyone outside Kapu would.

- :func:`nss_trusting` makes an NSS database that trusts only the given CA (``certutil``).
- :func:`pdfsig` runs ``pdfsig -nssdir sql:DIR`` and returns its verdict lines.
- :func:`pdfdetach_all` saves every embedded file (``pdfdetach -saveall``).
- :func:`pdftotext` extracts the text; :func:`words_on_page` each word with its place.

pdfsig checks certificates at the machine's time (it has no option for another): make the keys
with the test's clock (``TEST_EPOCH``) so that they stay valid for years after it, as CI's run
with the date a year ahead needs.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is needed (make test installs poppler-utils and libnss3-tools)"
    return path


def nss_trusting(ca_pem: bytes, directory: Path) -> Path:
    """An NSS database in ``directory`` whose only trusted certificate is ``ca_pem``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.pem").write_bytes(ca_pem)
    subprocess.run([tool("certutil"), "-N", "-d", f"sql:{directory}", "--empty-password"],
                   check=True, capture_output=True)
    subprocess.run([tool("certutil"), "-A", "-d", f"sql:{directory}", "-n", "kapu-ca",
                    "-t", "CT,C,C", "-i", str(directory / "ca.pem")],
                   check=True, capture_output=True)
    return directory


def pdfsig(pdf: Path, nss: Path) -> list[str]:
    """pdfsig's lines about the signatures, stripped ("Signature is Valid." is in
    "Signature Validation: Signature is Valid.")."""
    result = subprocess.run([tool("pdfsig"), "-nssdir", f"sql:{nss}", str(pdf)],
                            capture_output=True, text=True, check=False)
    return [line.strip(" -") for line in (result.stdout + result.stderr).splitlines()
            if line.strip()]


def signature_holds(lines: list[str]) -> bool:
    """pdfsig's three verdicts of a sound hitelesített PDF."""
    text = "\n".join(lines)
    return ("Signature is Valid" in text and "Certificate is Trusted" in text
            and "Total document signed" in text)


def pdfdetach_all(pdf: Path, directory: Path) -> dict[str, bytes]:
    """Every embedded file, by name."""
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run([tool("pdfdetach"), "-saveall", "-o", str(directory), str(pdf)],
                   check=True, capture_output=True)
    return {path.name: path.read_bytes() for path in directory.iterdir()}


def pdftotext(pdf: Path) -> str:
    return subprocess.run([tool("pdftotext"), "-enc", "UTF-8", str(pdf), "-"],
                          check=True, capture_output=True, text=True).stdout


Box = tuple[float, float, float, float]  # left, bottom, right, top, in points from lower left
_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">'
                   r"([^<]*)</word>")


def words_on_page(pdf: Path, page: int, height: float) -> list[tuple[str, Box]]:
    """Each word ``pdftotext -bbox`` finds on ``page`` (from 1), with its box turned into PDF
    coordinates (pdftotext counts from the top of a page ``height`` points high)."""
    xhtml = subprocess.run([tool("pdftotext"), "-enc", "UTF-8", "-bbox", "-f", str(page),
                            "-l", str(page), str(pdf), "-"],
                           check=True, capture_output=True, text=True).stdout
    return [(html.unescape(found.group(5)),
             (float(found.group(1)), height - float(found.group(4)),
              float(found.group(3)), height - float(found.group(2))))
            for found in _WORD.finditer(xhtml)]


def overlap(one: Box, other: Box) -> bool:
    return (one[0] < other[2] and other[0] < one[2]
            and one[1] < other[3] and other[1] < one[3])
