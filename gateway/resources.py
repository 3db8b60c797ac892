"""Folders the repository ships beside the package (migrations, WSDL, XSDs)."""

from __future__ import annotations

from pathlib import Path

import gateway


def resource_dir(name: str) -> Path:
    """``name``/ of the checkout (editable install), or its copy packed into the wheel as
    ``gateway/_name``."""
    package = Path(gateway.__file__).parent
    for candidate in (package / f"_{name}", package.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the {name} folder is missing from this installation")
