"""One package per kind of service; see ``integrations.kinds.base``."""

from __future__ import annotations

import importlib
import logging

logger = logging.getLogger(__name__)

KINDS = ("yunite", "discord", "banano", "wallet", "admin", "github", "http")
_loaded = False


def load_all() -> None:
    """Import each kind's probe and workflows so that they register."""
    global _loaded
    if _loaded:
        return
    for kind in KINDS:
        for module in ("probe", "workflows"):
            try:
                importlib.import_module(f"integrations.kinds.{kind}.{module}")
            except ModuleNotFoundError as exc:
                if exc.name != f"integrations.kinds.{kind}.{module}":
                    raise
    _loaded = True
