"""Promotion beyond the registry: move an MLflow registry alias to the winner's version.

Teams serve ``models:/fraud@champion`` elsewhere too (batch scoring, other services); when
champion promotes a challenger, the alias should follow. The registry transition comes
first and stands on its own: an alias that cannot be moved is reported, never a reason to
undo a promotion that gateways already serve.
"""

from __future__ import annotations

import re

from champion.errors import InvalidArgument
from champion.spec.models import Experiment

__all__ = ["move_alias", "parse_model_uri"]

_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>\d+))$")


def parse_model_uri(target: str) -> tuple[str, str | None, str | None]:
    """(registered name, alias, version) of ``models:/name@alias`` or ``models:/name/3``."""
    found = _URI.match(target)
    if found is None:
        raise InvalidArgument(
            "target", target, "an MLflow registry URI: models:/NAME@ALIAS or models:/NAME/VERSION"
        )
    return found["name"], found["alias"], found["version"]


def move_alias(spec: Experiment, winner: str, alias: str) -> str:
    """Point ``alias`` of the winner's registered model at the winner's version; says what it
    did. The winner must be an ``mlflow`` model named by a registry URI."""
    ref = spec.models.get(winner)
    if ref is None or ref.kind != "mlflow":
        raise InvalidArgument(
            "promote_alias", alias, f"{winner!r} is not an mlflow model: only those have aliases"
        )
    name, source_alias, version = parse_model_uri(ref.target)
    from mlflow import MlflowClient

    tracking = ref.options.get("tracking_uri")
    client = MlflowClient(
        tracking_uri=tracking, registry_uri=ref.options.get("registry_uri") or tracking
    )
    if version is None:
        version = client.get_model_version_by_alias(name, str(source_alias)).version
    client.set_registered_model_alias(name, alias, str(version))
    return f"MLflow alias {name}@{alias} -> version {version}"
