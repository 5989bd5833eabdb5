"""Gateway settings from the environment (prefix ``CHAMPION_``), so every worker reads the same."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["GatewaySettings"]


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHAMPION_", extra="ignore")

    specs: list[str] = Field(default_factory=list, description="spec files to serve (-f)")
    db: str | None = Field(None, description="registry URL to follow (--db)")
    events: str | None = Field(None, description="event store: a folder or a PostgreSQL URL")
    events_sync: bool = Field(False, description="acknowledge events only once durable")
    models_dir: str = Field(".", description="folder python model targets are imported from")
    admin_token: str | None = Field(None, description="bearer token for the admin API")
    predict_token: str | None = Field(None, description="bearer token for predict; open if unset")
    poll_interval: float = Field(0.5, gt=0, description="seconds between registry polls")
    shadow_concurrency: int = Field(64, ge=1)
