"""Gateway settings from the environment (prefix ``CHAMPION_``), so every worker reads the same.

:func:`load_settings` turns a setting that cannot work (an empty token, a limit below 1)
into one :class:`~champion.errors.ConfigError` naming the variable, so ``champion serve``
stops with a message and exit code 2 instead of serving with a hole in it.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from champion.errors import ConfigError

__all__ = ["GatewaySettings", "load_settings"]

PREFIX = "CHAMPION_"


_BAD_TOKEN = (
    "is empty, holds only spaces, or has spaces or control characters in it at its ends; "
    "set a real secret (e.g. `openssl rand -hex 32`) or unset the variable"
)


def _token(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.strip() or not value.isprintable() or value != value.strip():
        raise ValueError(_BAD_TOKEN)
    return value


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore")

    specs: list[str] = Field(default_factory=list, description="spec files to serve (-f)")
    db: str | None = Field(None, description="registry URL to follow (--db)")
    events: str | None = Field(None, description="event store: a folder or a PostgreSQL URL")
    events_sync: bool = Field(False, description="acknowledge events only once durable")
    models_dir: str = Field(".", description="folder python model targets are imported from")
    admin_token: str | None = Field(None, description="bearer token for the admin API")
    admin_token_name: str = Field(
        "admin", min_length=1, max_length=64,
        description="who the audit log records for changes made with admin_token",
    )  # fmt: skip
    admin_tokens: dict[str, str] = Field(
        default_factory=dict,
        description='more admin tokens by name, e.g. {"alice": "...", "argo": "..."}; '
        "the audit log records the name",
    )
    predict_token: str | None = Field(None, description="bearer token for predict; open if unset")
    allow_python_modules: list[str] = Field(
        default_factory=list,
        description="module patterns (fnmatch: fraud_models, team_*) whose functions specs "
        "registered through the API may name as python models",
    )
    poll_interval: float = Field(0.5, gt=0, description="seconds between registry polls")
    shadow_concurrency: int = Field(64, ge=1)
    max_body_bytes: int = Field(1_000_000, ge=1_024, description="largest request body (413)")
    max_spec_bytes: int = Field(256_000, ge=1_024, description="largest spec the API registers")
    registry_timeout: float = Field(
        5.0, gt=0, description="seconds an admin write waits for the registry's write lock"
    )
    registry_stale_after: float = Field(
        10.0, gt=0, description="seconds without a registry read before /readyz says degraded"
    )
    switch_interval_ms: float = Field(
        0.5, gt=0, le=100,
        description="how long a worker's background thread (the event writer) may hold the "
        "interpreter before a request waiting on the event loop gets it (Python's default: 5)",
    )  # fmt: skip

    @field_validator("admin_token")
    @classmethod
    def _admin(cls, value: str | None) -> str | None:
        return _token(value)

    @field_validator("predict_token")
    @classmethod
    def _predict(cls, value: str | None) -> str | None:
        return _token(value)

    @field_validator("admin_tokens")
    @classmethod
    def _named(cls, value: dict[str, str]) -> dict[str, str]:
        for name, token in value.items():
            if not name.strip() or len(name) > 64:
                raise ValueError(f"token name {name!r} must be 1 to 64 characters")
            _token(token)
        return value

    def admin_principals(self) -> dict[str, str]:
        """Every admin token with the name the audit log records for it."""
        named = dict(self.admin_tokens)
        if self.admin_token is not None:
            named[self.admin_token_name] = self.admin_token
        return named


def load_settings(**values: Any) -> GatewaySettings:
    """The settings from ``CHAMPION_*`` (and ``values``); ConfigError names what is wrong."""
    try:
        return GatewaySettings(**values)
    except SettingsError as e:  # a list or mapping variable that is not JSON
        field = str(e).split('"')[1] if str(e).count('"') >= 2 else "settings"
        raise ConfigError(
            f"{PREFIX}{field.upper()}",
            "is not valid JSON",
            'give a JSON list or object, e.g. \'["fraud_models", "team_*"]\' or '
            '\'{"alice": "..."}\'',
        ) from None
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        variable = f"{PREFIX}{where.split('.')[0].upper()}"
        if message == _BAD_TOKEN:
            problem, _, fix = message.partition("; ")
            raise ConfigError(variable, problem, fix) from None
        raise ConfigError(variable, f"is invalid: {message}", "fix it or unset it") from None
