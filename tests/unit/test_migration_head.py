"""The newest migration, as every start reads it without alembic, is alembic's head: each file
is named for its revision and the revisions form one line."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from alembic.script import ScriptDirectory

from gateway.storage.database import (
    _recorded_revision,
    alembic_config,
    head_revision,
    migrations_dir,
    upgrade,
)


def test_each_file_is_named_for_its_revision_and_the_newest_is_the_head() -> None:
    scripts = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://"))
    assert scripts.get_heads() == [head_revision()]
    for script in scripts.walk_revisions():
        assert Path(script.path).name.startswith(f"{script.revision}_"), script.path
    named = sorted(p.name for p in (migrations_dir() / "versions").glob("[0-9]*_*.py"))
    assert len(named) == len(list(scripts.walk_revisions()))


def test_a_database_at_the_head_is_only_asked(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/kapu.db"
    assert asyncio.run(_recorded_revision(url)) is None  # nothing there yet
    upgrade(url)
    assert asyncio.run(_recorded_revision(url)) == head_revision()
    sys.modules.pop("alembic.command", None)
    upgrade(url)  # at the head: alembic's commands are not even imported
    assert "alembic.command" not in sys.modules
