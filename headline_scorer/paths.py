"""Where the project keeps its data, models and reports: every tool asks this one module.

Fixed places hang off the project root (``data/raw``, ``data/datasets.json``, ``reports/``);
the places a deployment moves are read from the environment by :meth:`Paths.from_env`:

- ``HEADLINE_MODELS_DIR``: the models directory (``models/``), where ``make train`` writes a
  version and what the service, the CLI and batch jobs load from;
- ``HEADLINE_MODEL_DIR``: the model to serve (default ``<models dir>/current``);
- ``HEADLINE_FEEDBACK_DB``: the editors' feedback database (``data/feedback.sqlite3``);
- ``HEADLINE_FEEDBACK_URL``: a PostgreSQL database for the feedback instead (``postgresql://...``),
  shared by several servers; unset, the SQLite file is used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
RAW_DIR = DATA_DIR / "raw"
DATASET_MANIFEST = DATA_DIR / "datasets.json"
REPORTS_DIR = PROJECT_ROOT / "reports"
DEFAULT_MODELS_ROOT = PROJECT_ROOT / "models"
DEFAULT_FEEDBACK_DB = DATA_DIR / "feedback.sqlite3"


@dataclass(frozen=True)
class Paths:
    """The places a deployment can move, as read from the environment."""

    models_root: Path = DEFAULT_MODELS_ROOT
    model_dir: Path = DEFAULT_MODELS_ROOT / "current"
    feedback_db: Path = DEFAULT_FEEDBACK_DB
    feedback_url: str | None = None

    @classmethod
    def from_env(cls) -> Paths:
        models_root = Path(os.environ.get("HEADLINE_MODELS_DIR", "").strip()
                           or DEFAULT_MODELS_ROOT).resolve()
        return cls(
            models_root=models_root,
            model_dir=Path(os.environ.get("HEADLINE_MODEL_DIR", "").strip() or models_root / "current"),
            feedback_db=Path(os.environ.get("HEADLINE_FEEDBACK_DB", "").strip() or DEFAULT_FEEDBACK_DB),
            feedback_url=os.environ.get("HEADLINE_FEEDBACK_URL", "").strip() or None,
        )
