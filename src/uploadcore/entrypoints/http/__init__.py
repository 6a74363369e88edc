"""The HTTP entrypoint."""

from __future__ import annotations

from uploadcore.entrypoints.http.app import create_app

__all__ = ["create_app"]
