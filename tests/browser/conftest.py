"""The browser test's summary: code blocks too wide for their box, page by page."""

from __future__ import annotations

import pytest

_WIDE: dict[str, tuple[int, int, int]] = {}


@pytest.fixture(scope="session")
def wide_blocks() -> dict[str, tuple[int, int, int]]:
    """docname -> (too wide at 1280 px, too wide at 1024 px, blocks measured), filled by the width test."""
    return _WIDE


def pytest_terminal_summary(terminalreporter) -> None:
    if not _WIDE:
        return
    write = terminalreporter.write_line
    at_1280 = {name: counts for name, counts in _WIDE.items() if counts[0]}
    total_1024 = sum(counts[1] for counts in _WIDE.values())
    blocks = sum(counts[2] for counts in _WIDE.values())
    write(f"code blocks and outputs wider than their box: {sum(c[0] for c in _WIDE.values())} at 1280 px, "
          f"{total_1024} at 1024 px (of {blocks} on {len(_WIDE)} pages)")
    for name, (wide, narrow, measured) in at_1280.items():
        write(f"  {name}: {wide} at 1280 px, {narrow} at 1024 px (of {measured})")
