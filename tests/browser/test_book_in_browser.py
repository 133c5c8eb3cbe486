"""The built book, opened page by page in headless Chromium.

Serves ``_build/html`` on 127.0.0.1 and, for the intro and every page listed in ``_toc.yml``
(in toc order), checks that the page has its title, that notebook pages show their stored code
outputs, that every image actually loaded, that the "next" link leads to the next page of the
toc, and that no request for a local asset failed. A screenshot of each page is saved under
``_build/screenshots/`` (plus ``readme.png``, the 1280x800 top of the intro page).

A second pass loads each page again and measures every ``pre`` block (code and outputs, in
every tab of a tab set and in folded solutions too): at 1280 px none may be wider than its box,
so that nothing scrolls sideways; at 1024 px the too-wide ones are counted in the summary.

Needs a built book (``make book``) and Debian's ``chromium`` (``make browser-deps``); the
browser is driven by the ``playwright`` package with that executable, never a downloaded one.
Without Chromium the tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# BOOK_HTML points the test at another build (a copy to experiment on, say); pictures go beside it.
HTML = Path(os.environ.get("BOOK_HTML", ROOT / "_build" / "html")).resolve()
SCREENSHOTS = HTML.parent / "screenshots"
TOC = ROOT / "_toc.yml"
VIEWPORT = {"width": 1280, "height": 800}
NARROW_WIDTH = 1024  # a small laptop: too-wide code blocks are counted there, not failed
# Debian's Chromium and the flags that switch off its background traffic, shared with `make pdf`.
sys.path.insert(0, str(ROOT / "scripts"))
import headless_chromium  # noqa: E402

CHROMIUM_ARGS = headless_chromium.ARGS
NOTEBOOK_OUTPUT = ".cell_output"
NEXT_LINK = ".prev-next-area a.right-next"
LOCAL_HOST = headless_chromium.LOCAL_HOST
REMOVED_OUTPUT_TAGS = {"remove-cell", "remove_cell", "remove-output", "remove_output"}


@dataclass(frozen=True)
class Page:
    """One page of the book, in toc order."""

    docname: str  # e.g. "notebooks/01_logreg_manual", as written in _toc.yml without a suffix
    source: Path | None  # the file the page was built from, when found

    @property
    def html_path(self) -> str:
        return f"{self.docname}.html"

    @property
    def is_notebook(self) -> bool:
        if self.source is None:
            return False
        if self.source.suffix == ".ipynb":
            return True
        # A MyST text notebook carries a kernelspec in its front matter.
        text = self.source.read_text(encoding="utf-8")
        return self.source.suffix == ".md" and text.startswith("---") and "kernelspec" in text.split("---")[1]


def _find_source(docname: str) -> Path | None:
    for suffix in (".ipynb", ".md", ".rst"):
        candidate = ROOT / f"{docname}{suffix}"
        if candidate.exists():
            return candidate
    return None


def _strip_suffix(name: str) -> str:
    for suffix in (".ipynb", ".md", ".rst"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _toc_docnames(entries: list[dict]) -> Iterator[str]:
    """Depth-first, as Sphinx orders "next": a page, then its sections, then its next sibling."""
    for entry in entries:
        if "glob" in entry:
            raise ValueError(f"_toc.yml: glob entries are not supported by the browser test: {entry}")
        if "file" in entry:
            yield _strip_suffix(str(entry["file"]))
        # `url:` entries are external links, not pages of the book.
        for key in ("parts", "chapters", "sections"):
            if key in entry:
                yield from _toc_docnames(entry[key])


def toc_pages(toc_path: Path = TOC) -> list[Page]:
    """The root page and every page of ``_toc.yml``, in reading order."""
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    if not isinstance(toc, dict) or "root" not in toc:
        raise ValueError(f"{toc_path.name} has no `root:` entry")
    names = [_strip_suffix(str(toc["root"]))] + list(_toc_docnames([toc]))
    seen: set[str] = set()
    ordered = [name for name in names if not (name in seen or seen.add(name))]
    return [Page(name, _find_source(name)) for name in ordered]


PAGES = toc_pages()
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
LAUNCH_PREFIXES = {"Colab": CONFIG["launch_buttons"]["colab_url"], "Binder": CONFIG["launch_buttons"]["binderhub_url"]}


def launch_urls(docname: str) -> dict[str, str]:
    """The Colab and Binder addresses that must open ``docname``.ipynb on the repository's configured branch."""
    repository = CONFIG["repository"]
    org_repo = urlsplit(repository["url"]).path.strip("/")
    branch, notebook = repository.get("branch", "main"), f"{docname}.ipynb"
    return {
        "Colab": f"{LAUNCH_PREFIXES['Colab'].rstrip('/')}/github/{org_repo}/blob/{branch}/{notebook}",
        "Binder": f"{LAUNCH_PREFIXES['Binder'].rstrip('/')}/v2/gh/{org_repo}/{branch}?urlpath=lab/tree/{notebook}",
    }


def _screenshot_names(pages: list[Page]) -> dict[str, str]:
    """`<stem>.png`, or the whole docname with "/" -> "-" where two stems collide."""
    stems = [Path(page.docname).name for page in pages]
    return {
        page.docname: (stem if stems.count(stem) == 1 else page.docname.replace("/", "-")) + ".png"
        for page, stem in zip(pages, stems)
    }


SCREENSHOT_NAMES = _screenshot_names(PAGES)


def expected_output_cells(notebook: Path) -> int:
    """Code cells whose stored outputs must show on the page (stdout, results, displays)."""
    if notebook.suffix != ".ipynb":
        return 1  # a text notebook stores no outputs; at least one must have been rendered
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    count = 0
    for cell in cells:
        if cell["cell_type"] != "code" or REMOVED_OUTPUT_TAGS & set(cell.get("metadata", {}).get("tags", [])):
            continue
        shown = [
            out for out in cell.get("outputs", [])
            if (out["output_type"] in ("execute_result", "display_data")
                and "scrapbook" not in out.get("metadata", {}))  # a glued value: myst-nb shows it where the text cites it
            or (out["output_type"] == "stream" and out.get("name") == "stdout" and "".join(out.get("text", "")).strip())
        ]
        count += bool(shown)
    return count


def _chromium_executable() -> str | None:
    return headless_chromium.executable()


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the browser test must run; `make browser-deps` installs Chromium)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    if not (HTML / "index.html").exists():
        pytest.fail(f"{HTML}/index.html is missing: run `make book` first", pytrace=False)
    with headless_chromium.serve(HTML) as base:
        yield base


@pytest.fixture(scope="session")
def browser():
    executable = _chromium_executable()
    if executable is None:
        _missing("Chromium not found (looked for $CHROMIUM, chromium, chromium-browser, google-chrome)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the `playwright` package is not installed (it is pinned in requirements.txt)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):  # pages come and go: no stale pictures
        old.unlink()
    with sync_playwright() as playwright:
        # Playwright gives each launch a fresh temporary --user-data-dir and adds --headless.
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class LoadedPage:
    page: object  # playwright Page
    failures: list[str]


@pytest.fixture
def tab(server, browser) -> Iterator[LoadedPage]:
    """A fresh tab that records failed local requests and never waits on the (closed) network."""
    context = browser.new_context(viewport=VIEWPORT, service_workers="block")
    page = context.new_page()
    failures: list[str] = []

    def is_local(url: str) -> bool:
        return urlsplit(url).hostname == LOCAL_HOST

    def route(route) -> None:
        if is_local(route.request.url) or route.request.url.startswith(("data:", "blob:", "about:")):
            route.continue_()
        else:
            route.abort("blockedbyclient")

    page.route("**/*", route)
    page.on("requestfailed", lambda req: is_local(req.url) and failures.append(f"{req.url}: {req.failure}"))
    page.on("response", lambda resp: is_local(resp.url) and resp.status >= 400
            and failures.append(f"{resp.url}: HTTP {resp.status}"))
    page.set_default_timeout(15_000)
    try:
        yield LoadedPage(page, failures)
    finally:
        context.close()


# Records images that fired `error` (an SVG without intrinsic size loads with naturalWidth 0).
TRACK_IMAGE_ERRORS = """
window.__brokenImages = [];
window.addEventListener('error', e => {
  if (e.target && e.target.tagName === 'IMG') window.__brokenImages.push(e.target.currentSrc || e.target.src);
}, true);
"""

IMAGE_STATES = """() => [...document.images].map(img => ({
  src: img.currentSrc || img.src || img.outerHTML.slice(0, 120),
  complete: img.complete,
  naturalWidth: img.naturalWidth,
  errored: window.__brokenImages.includes(img.currentSrc || img.src),
  svg: /\\.svg(\\?|#|$)/i.test(img.currentSrc || img.src),
}))"""

HEADING_TEXT = """() => {
  const h1 = document.querySelector('main h1, article h1, h1');
  if (!h1) return null;
  const copy = h1.cloneNode(true);
  copy.querySelectorAll('.headerlink').forEach(a => a.remove());
  return copy.textContent.replace(/\\s+/g, ' ').trim();
}"""


def _normalise(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("index", range(len(PAGES)), ids=[page.docname for page in PAGES])
def test_page(tab: LoadedPage, server: str, index: int) -> None:
    entry = PAGES[index]
    page = tab.page
    page.add_init_script(TRACK_IMAGE_ERRORS)
    url = urljoin(server, entry.html_path)
    assert (HTML / entry.html_path).exists(), (
        f"{entry.docname} is in _toc.yml but {entry.html_path} is not in {HTML}: rebuild with `make book`")

    if index == 0:  # the site's front door leads to the intro
        page.goto(server)
        page.wait_for_url(url, wait_until="load")
    else:
        response = page.goto(url, wait_until="load")
        assert response is not None and response.ok, f"{url}: HTTP {response and response.status}"
    problems: list[str] = []  # every check runs; the test lists all that failed

    # Title: a non-empty h1, repeated in <title>.
    heading = page.evaluate(HEADING_TEXT)
    if not heading:
        problems.append("no h1, or an empty one")
    elif _normalise(heading) not in _normalise(page.title()):
        problems.append(f"<title> {page.title()!r} does not contain the h1 {heading!r}")

    # Images: all of them loaded, including lazy ones further down.
    page.evaluate(headless_chromium.SCROLL_THROUGH)
    _wait_for_images(page)
    broken = [img["src"] for img in page.evaluate(IMAGE_STATES)
              if not img["complete"] or img["errored"] or (img["naturalWidth"] == 0 and not img["svg"])]
    if broken:
        problems.append(f"images that did not load: {broken}")

    # Notebook pages show their stored outputs (those of folded solutions too: their text is there,
    # though not rendered until the reader opens them).
    if entry.is_notebook:
        outputs = page.locator(NOTEBOOK_OUTPUT).evaluate_all(
            "els => els.map(e => ({text: (e.innerText.trim() || e.textContent.trim()),"
            " images: e.querySelectorAll('img').length}))")
        expected = expected_output_cells(entry.source)
        empty = [number for number, out in enumerate(outputs, start=1) if not out["text"] and not out["images"]]
        if not outputs:
            problems.append(f"no rendered code outputs ({NOTEBOOK_OUTPUT}) on the page")
        elif not any(out["text"] for out in outputs):
            problems.append("no code output contains text")
        if empty:
            problems.append(f"code outputs number {empty} (in page order) are empty")
        if outputs and len(outputs) < expected:
            problems.append(f"{len(outputs)} rendered code outputs, but {entry.source.name} stores outputs "
                            f"for {expected} cells")

    # Notebook pages offer Colab and Binder, opening this notebook on the configured branch.
    if entry.is_notebook:
        hrefs = page.locator("a[href]").evaluate_all("els => els.map(e => e.href)")
        for service, expected_url in launch_urls(entry.docname).items():
            found = sorted({href for href in hrefs if href.startswith(LAUNCH_PREFIXES[service])})
            if found != [expected_url]:
                problems.append(f"{service} launch link: expected {expected_url}, found {found}")

    # Screenshots for people to look at.
    if index == 0:
        page.screenshot(path=str(SCREENSHOTS / "readme.png"))  # the viewport: 1280x800
    page.screenshot(path=str(SCREENSHOTS / SCREENSHOT_NAMES[entry.docname]), full_page=True)

    # Local requests made by this page (and anything it loaded lazily) all succeeded.
    if tab.failures:
        problems.append("failed requests to local assets:\n    " + "\n    ".join(tab.failures))

    # "next" leads to the next page of the toc.
    if index + 1 < len(PAGES):
        following = PAGES[index + 1]
        expected_url = urljoin(server, following.html_path)
        link = page.locator(NEXT_LINK)
        if link.count() != 1:
            problems.append(f"{link.count()} 'next' links ({NEXT_LINK}), expected one to {following.docname}")
        else:
            with page.expect_navigation(wait_until="commit"):
                link.click()
            if page.url.split("#")[0] != expected_url:
                problems.append(f"'next' leads to {page.url}, expected {expected_url} ({following.docname})")

    if problems:
        pytest.fail(f"{entry.docname} ({url}):\n  - " + "\n  - ".join(problems), pytrace=False)


# Every <pre> (code and outputs) on the page, measured where it is shown: collapsed blocks
# (solutions, folded cells) are opened first, and each tab of a tab set is selected in turn,
# since a hidden tab's blocks have no width. Returns the too-wide blocks and any never shown.
MEASURE_PRE_BLOCKS = """() => {
  for (const d of document.querySelectorAll('details')) d.open = true;
  for (const el of document.querySelectorAll('.toggle-hidden')) el.classList.remove('toggle-hidden');
  const seen = new Set(), wide = [];
  const firstLine = pre => pre.textContent.replace(/^\\n+/, '').split('\\n')[0].slice(0, 100);
  const kind = pre => pre.closest('.cell_output, .output') ? 'output' : 'code';
  const room = pre => {  // how many characters of the block's font fit its box
    const probe = document.createElement('span');
    probe.textContent = 'x'.repeat(100);
    pre.appendChild(probe);
    const width = probe.getBoundingClientRect().width / 100, style = getComputedStyle(pre);
    probe.remove();
    return Math.floor((pre.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight)) / width);
  };
  const measure = (root, where) => {
    for (const pre of root.querySelectorAll('pre')) {
      if (seen.has(pre) || pre.clientWidth === 0) continue;
      seen.add(pre);
      const scroll = pre.scrollWidth, client = pre.clientWidth;
      if (scroll > client + 1)
        wide.push({where, kind: kind(pre), line: firstLine(pre), scroll, client, room: room(pre),
                   longest: Math.max(...pre.textContent.split('\\n').map(line => line.length))});
    }
  };
  measure(document, '');
  for (const set of document.querySelectorAll('.sd-tab-set')) {
    const inputs = [...set.querySelectorAll(':scope > input')];
    const chosen = inputs.find(input => input.checked);
    for (const input of inputs) {
      input.checked = true;
      const label = input.nextElementSibling, content = label && label.nextElementSibling;
      if (content) measure(content, `tab "${label.textContent.trim()}"`);
    }
    if (chosen) chosen.checked = true;
  }
  const hidden = [...document.querySelectorAll('pre')].filter(pre => !seen.has(pre)).map(firstLine);
  return {blocks: seen.size, wide, hidden};
}"""


def _describe(block: dict) -> str:
    where = f" in {block['where']}" if block["where"] else ""
    return (f"{block['kind']}{where}, {block['scroll']} px wide in a {block['client']} px box (longest line "
            f"{block['longest']} characters, room for {block['room']}): {block['line']!r}")


@pytest.mark.parametrize("index", range(len(PAGES)), ids=[page.docname for page in PAGES])
def test_no_code_block_scrolls_sideways(tab: LoadedPage, server: str, index: int, wide_blocks) -> None:
    """At the test's 1280 px, every code block and output fits its box; 1024 px is reported, not failed."""
    entry = PAGES[index]
    page = tab.page
    response = page.goto(urljoin(server, entry.html_path), wait_until="load")
    assert response is not None and response.ok, f"{entry.html_path}: HTTP {response and response.status}"
    page.evaluate("document.fonts.ready.then(() => true)")
    at_width = page.evaluate(MEASURE_PRE_BLOCKS)
    page.set_viewport_size({"width": NARROW_WIDTH, "height": VIEWPORT["height"]})
    narrow = page.evaluate(MEASURE_PRE_BLOCKS)
    wide_blocks[entry.docname] = (len(at_width["wide"]), len(narrow["wide"]), at_width["blocks"])
    problems = [_describe(block) for block in at_width["wide"]]
    problems += [f"never shown, so not measured: {line!r}" for line in at_width["hidden"]]
    if problems:
        pytest.fail(f"{entry.docname}: {len(at_width['wide'])} of {at_width['blocks']} code blocks and outputs "
                    f"are wider than their box at {VIEWPORT['width']} px (they scroll sideways):\n  - "
                    + "\n  - ".join(problems), pytrace=False)


def _wait_for_images(page) -> None:
    """Wait (at most 10 s) until every <img> finished loading or failed."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function("() => [...document.images].every(img => img.complete)", timeout=10_000, polling=100)
    except PlaywrightTimeout:
        pass  # the check below names the images that never finished


def test_toc_reader_follows_sections_in_reading_order(tmp_path: Path) -> None:
    toc = tmp_path / "_toc.yml"
    toc.write_text(
        "format: jb-book\nroot: intro\nparts:\n  - caption: A\n    chapters:\n"
        "      - file: a.md\n        sections:\n          - file: a1\n      - url: https://example.org\n"
        "  - caption: B\n    chapters:\n      - file: b\n", encoding="utf-8")
    assert [page.docname for page in toc_pages(toc)] == ["intro", "a", "a1", "b"]


def test_toc_reader_rejects_a_toc_without_root(tmp_path: Path) -> None:
    toc = tmp_path / "_toc.yml"
    toc.write_text("format: jb-book\nchapters:\n  - file: a\n", encoding="utf-8")
    with pytest.raises(ValueError, match="root"):
        toc_pages(toc)


def test_expected_outputs_count_shown_cells_only(tmp_path: Path) -> None:
    def code(outputs: list[dict], tags: tuple[str, ...] = ()) -> dict:
        return {"cell_type": "code", "metadata": {"tags": list(tags)}, "outputs": outputs, "source": "x"}

    stdout = {"output_type": "stream", "name": "stdout", "text": ["hello\n"]}
    stderr = {"output_type": "stream", "name": "stderr", "text": ["warning\n"]}
    figure = {"output_type": "display_data", "data": {"image/png": ""}, "metadata": {}}
    notebook = tmp_path / "nb.ipynb"
    notebook.write_text(json.dumps({"cells": [
        code([stdout]), code([figure, stdout]), code([stderr]), code([]), code([stdout], ("remove-output",)),
        {"cell_type": "markdown", "metadata": {}, "source": "text"},
    ]}), encoding="utf-8")
    assert expected_output_cells(notebook) == 2
