"""Debian's Chromium, headless and quiet: shared by the browser test and `make pdf`.

Playwright drives the system's ``chromium`` (``make browser-deps`` installs it); it never
downloads a browser of its own. The flags switch off Chromium's own background traffic
(updates, sync, component downloads), so that a run behaves the same without network access.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def executable() -> str | None:
    """``$CHROMIUM`` when set (None if that file is missing), else the first Chromium on PATH."""
    override = os.environ.get("CHROMIUM")
    if override:
        return override if Path(override).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None
