"""Debian's Chromium, headless and quiet, and a local server for the built book: shared by the
browser test and `make pdf`.

Playwright drives the system's ``chromium`` (``make browser-deps`` installs it); it never
downloads a browser of its own. The flags switch off Chromium's own background traffic
(updates, sync, component downloads), so that a run behaves the same without network access.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCAL_HOST = "127.0.0.1"

# Scrolls a page to its end and back, so that lazily loaded images load before they are checked.
SCROLL_THROUGH = """async () => {
  // Lazy images load once near the viewport; hidden ones (menus, dark-mode variants) never would.
  for (const img of document.images) if (img.loading === 'lazy') img.loading = 'eager';
  const frame = () => new Promise(r => requestAnimationFrame(() => r()));
  window.scrollTo(0, document.documentElement.scrollHeight);
  await frame();
  window.scrollTo(0, 0);
  await frame();
}"""

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


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a tab that moved on mid-response is no error
            super().handle_error(request, client_address)


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on a free local port, quietly; yields the base URL."""
    httpd = _Server((LOCAL_HOST, 0), functools.partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, name="book-http", daemon=True)
    thread.start()
    try:
        yield f"http://{LOCAL_HOST}:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
