"""Settings: the only code that reads the environment (prefix ``KAPU_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """One validated configuration object, built once and passed down."""

    model_config = SettingsConfigDict(env_prefix="KAPU_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./var/kapu.db"
    data_dir: Path = Path("./var")
    max_document_bytes: int = Field(default=314_572_800, gt=0)
    retention_days: int = Field(default=30, gt=0, le=3650)
    sandbox: bool = False
    # "production" refuses the demo parties and their published passwords.
    environment: Literal["development", "production"] = "development"
    # Connections per process; PostgreSQL only (SQLite uses its own small pool).
    database_pool_size: int = Field(default=10, gt=0, le=200)

    @model_validator(mode="after")
    def _known_database(self) -> Settings:
        if not self.database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "KAPU_DATABASE_URL must be sqlite+aiosqlite://… or postgresql+asyncpg://…"
            )
        return self

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
