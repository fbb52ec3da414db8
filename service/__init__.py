"""headline-scorer's HTTP service: the Flask app, its routes, and how gunicorn runs it.

``service:create_app()`` is what gunicorn serves (``make serve``); the model itself, and
everything a saved model needs, is the core package ``headline_scorer``.
"""

from __future__ import annotations

from service.app import create_app

__all__ = ["create_app"]
