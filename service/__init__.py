"""headline-scorer's service package: the scorer, the model artifact, the HTTP app and the CLI.

``create_app`` (the HTTP app factory, see ``service.app``) is imported on first use, so the
CLI and training, which import ``headline_scorer.artifact`` and ``headline_scorer.scorer``, do not pay for
importing Flask and the routes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from service.app import create_app

        return create_app
    raise AttributeError(f"module 'service' has no attribute {name!r}")
