"""The book as one PDF (``make pdf``): every chapter in it, all of its text, figures and maths.

Reads ``_build/pdf/book.pdf`` and the report ``scripts/book_pdf.py`` wrote beside it while
printing (``book.json``: formulas typeset, blocks cut at the page edge), and compares them with
``_toc.yml`` and the single-page HTML the PDF was printed from. Run ``make pdf`` first.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
PDF = ROOT / "_build" / "pdf" / "book.pdf"
REPORT = PDF.with_suffix(".json")
SINGLE_PAGE = ROOT / "_build" / "singlehtml" / "book.html"
PAGES_PER_CHAPTER = (1, 40)  # a chapter starts on a page of its own; none is a book by itself


def _browser_test():
    """The browser test's reader of _toc.yml (the same pages, in the same order)."""
    path = ROOT / "tests" / "browser" / "test_book_in_browser.py"
    spec = importlib.util.spec_from_file_location("book_in_browser_toc", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def first_heading(source: Path) -> str:
    """A page's title: the first ``# `` heading of its file, as plain text."""
    if source.suffix == ".ipynb":
        notebook = nbformat.read(source, as_version=4)
        lines = [line for cell in notebook.cells if cell.cell_type == "markdown" for line in cell.source.splitlines()]
    else:
        lines = source.read_text(encoding="utf-8").splitlines()
    for line in lines:
        if line.startswith("# "):
            return re.sub(r"[`*]", "", line[2:]).strip()
    raise AssertionError(f"{source.relative_to(ROOT)} has no `# ` title")


def squeeze(text: str) -> str:
    """Text without any white space, ligatures unfolded: how a title compares with a PDF's text,
    whatever line breaks and spacing the print put in."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


class _TextLength(HTMLParser):
    """The text of a page, without scripts, styles and the folded sources of check cells (not printed)."""

    def __init__(self) -> None:
        super().__init__()
        self.length, self._skip, self._details = 0, 0, []

    def handle_starttag(self, tag, attrs) -> None:
        self._skip += tag in ("script", "style")
        if tag == "details":
            folded_source = "above-input" in (dict(attrs).get("class") or "").split()
            self._details.append(folded_source)
            self._skip += folded_source

    def handle_endtag(self, tag) -> None:
        self._skip -= tag in ("script", "style")
        if tag == "details" and self._details:
            self._skip -= self._details.pop()

    def handle_data(self, data) -> None:
        if not self._skip:
            self.length += len(squeeze(data))


@pytest.fixture(scope="module")
def book():
    if not PDF.exists() or not REPORT.exists():
        pytest.fail(f"{PDF.relative_to(ROOT)} or its report is missing: run `make pdf` first", pytrace=False)
    from pypdf import PdfReader

    reader = PdfReader(PDF)
    return reader, [squeeze(page.extract_text()) for page in reader.pages]


CHAPTERS = [page for page in _browser_test().toc_pages()]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[page.docname for page in CHAPTERS])
def test_every_chapter_opens_a_page_with_its_title(book, chapter):
    _, pages = book
    title = squeeze(first_heading(chapter.source))
    where = [number for number, text in enumerate(pages, start=1) if title in text]
    assert where, f"{first_heading(chapter.source)!r} ({chapter.docname}) is nowhere in {PDF.name}"
    opening = [number for number, text in enumerate(pages, start=1) if text.startswith(title)]
    assert opening, (f"{first_heading(chapter.source)!r} is in {PDF.name} (pages {where}) but opens no page: "
                     "each chapter should start on a new page")


def test_the_page_count_is_plausible_and_all_the_text_is_there(book):
    reader, pages = book
    low, high = (n * len(CHAPTERS) for n in PAGES_PER_CHAPTER)
    assert low <= len(reader.pages) <= high, f"{len(reader.pages)} pages for {len(CHAPTERS)} chapters"
    html = _TextLength()
    html.feed(SINGLE_PAGE.read_text(encoding="utf-8"))
    printed = sum(len(text) for text in pages)
    # The folded setup cells and the navigation stay out of print; everything else is text in the PDF.
    assert printed >= 0.9 * html.length, f"the PDF holds {printed} characters of the page's {html.length}"


def test_every_figure_is_printed(book):
    reader, _ = book
    figures = set(re.findall(r'<img[^>]*src="(_images/[^"]+\.(?:png|jpe?g|gif))"', SINGLE_PAGE.read_text(encoding="utf-8")))
    images = set()
    for page in reader.pages:
        objects = page.get("/Resources", {}).get("/XObject", {})
        images |= {ref.idnum for ref in objects.values() if ref.get_object().get("/Subtype") == "/Image"}
    assert figures, "the single-page HTML has no figures: is it the book?"
    assert len(images) >= len(figures), f"{len(figures)} figures in the book, {len(images)} images in {PDF.name}"


def test_maths_was_typeset_and_nothing_is_cut_at_the_page_edge(book):
    report = json.loads(REPORT.read_text(encoding="utf-8"))
    formulas = SINGLE_PAGE.read_text(encoding="utf-8").count('class="math notranslate')
    assert report["formulas"] == formulas > 0, f"{report['formulas']} formulas waited for, the page has {formulas}"
    assert not report["untypeset"] and report["counts"]["mjx-container"] >= formulas, report["untypeset"]
    assert not report["cut"], "cut at the page edge:\n" + "\n".join(report["cut"])
    assert not report["failed_requests"], report["failed_requests"]
    _, pages = book
    raw_tex = [number for number, text in enumerate(pages, start=1) if re.search(r"\\\(|\\\[|\\frac|\\mathbf|\$\$", text)]
    assert not raw_tex, f"TeX source instead of typeset maths on pages {raw_tex}"
