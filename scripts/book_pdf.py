"""The whole book as one PDF: a single-page HTML build, printed by headless Chromium.

``make pdf`` runs it. First Sphinx's ``singlehtml`` builder puts every page of ``_toc.yml`` into
one page, ``_build/singlehtml/book.html``, with ``_config.yml`` as it is (``hide_solutions``
included; its own doctrees, so the HTML build's are left alone). Then Debian's Chromium (with the
browser test's flags, ``headless_chromium.py``) opens that page from a local server, waits
until MathJax has typeset the maths and every image has loaded, and prints it to
``_build/pdf/book.pdf`` with a print style sheet that wraps long code lines instead of cutting
them at the page edge, opens collapsed solutions and shows every tab of a tab set; each page of
the web book starts a new PDF page. Before printing it measures the print layout and fails if a
code block, table, figure or formula would still be cut at the page edge, or a formula was not
typeset; ``_build/pdf/book.json`` records what it checked, for ``tests/pdf/``. No LaTeX, no
download, no network: requests for anything but the local server are refused.

The file is also the Sphinx extension that the build adds: the ``singlehtml`` builder would
otherwise miss the HTML visitors of sphinx-design's tab nodes (Sphinx uses a builder's own node
handlers instead of the ``html`` ones as soon as one extension registers any for it, and
sphinx-exercise registers its nodes for ``singlehtml``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import yaml

import headless_chromium  # beside this script

SCRIPTS = Path(__file__).resolve().parent
ROOT = SCRIPTS.parent
BUILD = ROOT / "_build"
SINGLEHTML = BUILD / "singlehtml"
PDF = BUILD / "pdf" / "book.pdf"
DOCTREES = BUILD / "pdf" / ".doctrees"
BOOK_PAGE = SINGLEHTML / "book.html"
REPORT = PDF.with_suffix(".json")  # what the print checked, for tests/pdf/
LOCAL_HOST = headless_chromium.LOCAL_HOST

# Print media only: the page keeps its screen look until Chromium prints it.
PRINT_CSS = """
@media print {
  /* Long code lines wrap at the page edge instead of being cut off. */
  pre, pre code, .highlight pre, .output pre {
    white-space: pre-wrap !important;
    overflow-wrap: anywhere !important;
    word-break: normal !important;
    overflow: visible !important;
    max-height: none !important;
  }
  .cell_output, .output, div.highlight, .cell_input { overflow: visible !important; max-height: none !important; }
  /* Inline code may break (in a narrow table cell, say), tables keep to the page width. */
  code.literal, span.pre { white-space: normal !important; overflow-wrap: anywhere !important; }
  .pst-scrollable-table-container, .table-wrapper { overflow: visible !important; }
  table { max-width: 100% !important; font-size: 0.8em; }
  table td, table th { overflow-wrap: break-word; padding: 0.3em 0.4em !important; }
  table code.literal, table span.pre { overflow-wrap: anywhere !important; }
  mjx-container[display="true"] { overflow: visible !important; max-width: 100%; }
  /* An admonition's title reaches over the box's padding only, not past its right edge. */
  .admonition > .admonition-title { margin-right: 0 !important; }
  img { max-width: 100% !important; height: auto !important; break-inside: avoid; }
  /* Every tab of a tab set, each under its label. */
  .sd-tab-set { display: block !important; }
  .sd-tab-set > label { display: block !important; border: none !important; padding: 0.6em 0 0.2em 0 !important;
                        font-weight: bold; color: inherit !important; }
  .sd-tab-set > .sd-tab-content { display: block !important; box-shadow: none !important; padding-top: 0 !important; }
  /* The folded setup cells (they install the helper package outside the repository), and the
     folded sources of the cells that check the text and glue its numbers (their outputs print). */
  .cell.tag_hide-cell, details.hide.above-input { display: none !important; }
  /* Nothing interactive: buttons, copy icons, header links. */
  .copybtn, .headerlink, button.toggle-button, .header-article, .bd-header-article, .prev-next-area,
  .bd-sidebar-primary, .bd-sidebar-secondary, .bd-header, .bd-footer, .bd-footer-content,
  .bd-footer-article, .sidebar-primary-items__start, .search-button-field { display: none !important; }
  .bd-main .bd-content .bd-article-container { max-width: 100% !important; }
  .bd-main .bd-content, .bd-main .bd-content .bd-article-container, .bd-article {
    margin: 0 !important; padding-left: 0 !important; padding-right: 0 !important; }
  /* Each page of the web book is a chapter here, starting on a new page. */
  span[id^="document-"] + section { break-before: page; }
  span[id^="document-"] + section > h2 { font-size: 2.2em; }
  h1, h2, h3 { break-after: avoid; }
  /* Long blocks may break across pages (the themes keep them whole, leaving pages blank). */
  div.highlight, div.literal-block-wrapper, div[class*=highlight-], div.admonition, .admonition,
  .bd-main .bd-content table, .sd-tab-set, .sd-tab-content, .cell, .cell_output, pre { break-inside: auto !important; }
}
"""

# Opens what the web page folds for the reader to open (solutions, dropdowns), so that it prints;
# the folded setup cells stay out (print CSS above).
OPEN_FOLDED = """() => {
  for (const d of document.querySelectorAll('details.toggle-details, details.sd-dropdown')) d.open = true;
  for (const el of document.querySelectorAll('.admonition.toggle-hidden')) el.classList.remove('toggle-hidden');
}"""

# Resolves once MathJax has typeset the page; names every formula it left as TeX or as an error.
MATH_DONE = """async () => {
  const formulas = [...document.querySelectorAll('span.math, div.math')];
  if (formulas.length) {
    for (let i = 0; i < 600 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++)
      await new Promise(r => setTimeout(r, 50));
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      await MathJax.startup.promise;
      if (MathJax.typesetPromise) await MathJax.typesetPromise();
    }
  }
  const bad = formulas.filter(el => !el.querySelector('mjx-container') || el.querySelector('mjx-merror'));
  return {formulas: formulas.length, untypeset: bad.map(el => el.textContent.trim().slice(0, 80))};
}"""

# In print layout at the page's width: code blocks, tables, figures and display maths wider than
# their box or than the page would be cut at the page edge.
CUT_AT_THE_EDGE = """() => {
  const limit = document.documentElement.clientWidth + 1, cut = [];
  const text = el => el.textContent.trim().split('\\n')[0].slice(0, 80);
  for (const el of document.querySelectorAll('pre, table, img, mjx-container[display="true"]')) {
    if (el.closest('.cell.tag_hide-cell') || !el.getClientRects().length) continue;  // not printed
    const box = el.getBoundingClientRect();
    const wider = el.tagName === 'PRE' && el.scrollWidth > el.clientWidth + 1;
    if (wider || box.right > limit || box.left < -1)
      cut.push(`${el.tagName.toLowerCase()} (${Math.round(box.left)}-${Math.round(box.right)} px of ${limit - 1}` +
               `${wider ? `, ${el.scrollWidth} px of text in ${el.clientWidth}` : ''}): ${text(el) || el.getAttribute('src')}`);
  }
  // Anything else wider than the page (Chromium would shrink every page to fit it): the innermost.
  if (document.documentElement.scrollWidth > limit) {
    const beyond = el => el.getClientRects().length && el.getBoundingClientRect().right > limit;
    for (const el of document.querySelectorAll('body *'))
      if (beyond(el) && ![...el.children].some(beyond) && !el.closest('pre, table'))
        cut.push(`${el.tagName.toLowerCase()}.${el.className} (to ${Math.round(el.getBoundingClientRect().right)} px ` +
                 `of ${limit - 1}): ${text(el)}`);
  }
  const counts = {};
  for (const name of ['pre', 'table', 'img', 'mjx-container']) counts[name] = document.querySelectorAll(name).length;
  return {cut, counts};
}"""

# A table still wider than the page (many columns of unbreakable words) prints in a smaller font,
# down to 0.6 em, and then lets its words break.
SHRINK_WIDE_TABLES = """() => {
  const limit = document.documentElement.clientWidth + 1;
  let shrunk = 0;
  for (const table of document.querySelectorAll('table')) {
    let size = 0.8;
    if (table.getBoundingClientRect().right > limit) shrunk++;
    while (table.getBoundingClientRect().right > limit && size > 0.6) {
      size -= 0.05;
      table.style.fontSize = `${size.toFixed(2)}em`;
    }
    // Still too wide: its longest words may break inside, as a last resort.
    if (table.getBoundingClientRect().right > limit)
      for (const cell of table.querySelectorAll('th, td')) cell.style.overflowWrap = 'anywhere';
  }
  return shrunk;
}"""

A4_WIDTH_MM, SIDE_MARGIN_MM = 210, 14
PRINT_WIDTH_PX = round((A4_WIDTH_MM - 2 * SIDE_MARGIN_MM) / 25.4 * 96)  # CSS pixels between the margins


# --- the Sphinx extension ---------------------------------------------------------------------

def _html_handlers_for_singlehtml(app) -> None:
    if app.builder.name != "singlehtml":
        return
    handlers = app.registry.translation_handlers
    handlers["singlehtml"] = {**handlers.get("html", {}), **handlers.get("singlehtml", {})}


def setup(app) -> dict:
    app.connect("builder-inited", _html_handlers_for_singlehtml)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


# --- the build --------------------------------------------------------------------------------

def build_singlehtml(quiet: bool = True) -> Path:
    """Sphinx's ``singlehtml`` build of the whole book; returns its one HTML file."""
    from jupyter_book.config import get_final_config
    from jupyter_book.sphinx import build_sphinx

    config = ROOT / "_config.yml"
    sys.path.insert(0, str(SCRIPTS))
    final, _ = get_final_config(user_yaml=config, cli_config={"latex_individualpages": False}, sourcedir=ROOT)
    overrides = {
        "external_toc_path": (ROOT / "_toc.yml").as_posix(),
        "latex_individualpages": False,
        "extensions": [*final["extensions"], Path(__file__).stem],
    }
    result = build_sphinx(
        ROOT, SINGLEHTML, noconfig=True, path_config=str(config), confoverrides=overrides,
        doctreedir=DOCTREES, builder="singlehtml", quiet=quiet, freshenv=False,
    )
    if result != 0:
        raise SystemExit(f"the single-page HTML build failed ({result!r}); its messages are above")
    # sphinx-external-toc makes the toc's root the root document; the page of the whole book is its.
    root_doc = Path(str(yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))["root"])).with_suffix("")
    written = SINGLEHTML / f"{root_doc.as_posix()}.html"
    if not written.exists():
        raise SystemExit(f"the single-page HTML build wrote no {written}")
    # The builder writes the root document's own path but links its assets from the output
    # folder (`_static/...`): the page works from there.
    BOOK_PAGE.write_bytes(written.read_bytes())
    return BOOK_PAGE


# --- the print --------------------------------------------------------------------------------

def print_pdf(page_path: Path, pdf: Path = PDF) -> dict:
    """Print ``page_path`` (a file under ``_build/singlehtml``) to ``pdf``; returns and saves what was checked."""
    from playwright.sync_api import sync_playwright

    chromium = headless_chromium.executable()
    if chromium is None:
        raise SystemExit("Chromium not found (looked for $CHROMIUM, chromium, chromium-browser, google-chrome): "
                         "`make browser-deps` installs Debian's chromium")
    pdf.parent.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    with headless_chromium.serve(SINGLEHTML) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=headless_chromium.ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800}, service_workers="block")
            page = context.new_page()
            page.set_default_timeout(60_000)

            def route(route) -> None:
                if urlsplit(route.request.url).hostname == LOCAL_HOST or route.request.url.startswith(("data:", "blob:")):
                    route.continue_()
                else:
                    route.abort("blockedbyclient")

            page.route("**/*", route)
            # The single-page build has no search index; the theme asks for one all the same.
            page.on("response", lambda r: r.status >= 400 and not r.url.endswith("/searchindex.js")
                    and failures.append(f"{r.url}: HTTP {r.status}"))
            page.goto(base + page_path.relative_to(SINGLEHTML).as_posix(), wait_until="load")
            page.evaluate(OPEN_FOLDED)
            page.evaluate(headless_chromium.SCROLL_THROUGH)
            page.wait_for_function("() => [...document.images].every(img => img.complete)", polling=100)
            math = page.evaluate(MATH_DONE)
            page.add_style_tag(content=PRINT_CSS)
            page.emulate_media(media="print")
            page.set_viewport_size({"width": PRINT_WIDTH_PX, "height": 1000})
            page.evaluate("document.fonts.ready.then(() => true)")
            shrunk = page.evaluate(SHRINK_WIDE_TABLES)
            layout = page.evaluate(CUT_AT_THE_EDGE)
            page.pdf(
                path=str(pdf), format="A4", print_background=True, outline=True, tagged=True,
                margin={"top": "16mm", "bottom": "16mm", "left": f"{SIDE_MARGIN_MM}mm", "right": f"{SIDE_MARGIN_MM}mm"},
                display_header_footer=True, header_template="<span></span>",
                footer_template='<div style="font-size:8px;width:100%;text-align:center">'
                                '<span class="pageNumber"></span> / <span class="totalPages"></span></div>',
            )
        finally:
            browser.close()
    report = {"pdf": pdf.name, "print_width_px": PRINT_WIDTH_PX, **math, **layout, "tables_shrunk": shrunk, "failed_requests": failures}
    REPORT.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    problems = [f"local request failed: {failure}" for failure in failures]
    problems += [f"formula not typeset by MathJax: {tex!r}" for tex in math["untypeset"]]
    problems += [f"cut at the page edge: {what}" for what in layout["cut"]]
    if problems:
        raise SystemExit(f"{pdf} printed, but:\n  " + "\n  ".join(problems))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-build", action="store_true", help="print the existing single-page HTML build")
    parser.add_argument("--verbose", action="store_true", help="show Sphinx's progress")
    args = parser.parse_args(argv)
    start = time.monotonic()
    page = BOOK_PAGE if args.no_build else build_singlehtml(quiet=not args.verbose)
    built = time.monotonic()
    report = print_pdf(page)
    print(f"single-page HTML: {page.relative_to(ROOT)} ({built - start:.0f} s); "
          f"PDF: {PDF.relative_to(ROOT)}, {PDF.stat().st_size / 1e6:.1f} MB ({time.monotonic() - built:.0f} s; "
          f"{report['formulas']} formulas typeset, {report['counts']['pre']} code blocks, "
          f"{report['counts']['img']} images, none cut at the page edge)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
