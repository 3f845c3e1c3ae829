"""The documentation site (issue 14): built from the package and the tutorials.

The test builds the site the way README.md says, ``sphinx-build -W -n``
(every warning an error, every cross-reference checked), into a temporary
folder, with the tutorials run in quick mode by the gallery. It then reads
the HTML:

- every tutorial has a page, with at least one image of its own and a link
  to its notebook (``.ipynb``), which exists;
- every public name (each documented module's ``__all__``) has an API page;
- no internal link or image is broken: every relative ``href``/``src``
  names a file of the site, and every ``#fragment`` an id in that file.

Without the docs extra the test is skipped, except in CI (``CI`` set), where
that is a failure: CI installs the extra.
"""

import importlib
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = sorted(p.stem for p in (ROOT / "tutorials").glob("[0-9][0-9]_*.py"))
# The modules of the API reference (docs/api.rst).
API_MODULES = ["deeplinear", "deeplinear.init", "deeplinear.optim", "deeplinear.losses",
               "deeplinear.gradcheck", "deeplinear.curvature", "deeplinear.datasets",
               "deeplinear.experiments", "deeplinear.assignment"]

pytestmark = pytest.mark.slow


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.images, self.ids = [], [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        if tag in ("a", "link") and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag in ("img", "script") and attrs.get("src"):
            (self.images if tag == "img" else self.links).append(attrs["src"])


def _parse(path):
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    try:
        import numpydoc  # noqa: F401
        import pydata_sphinx_theme  # noqa: F401
        import sphinx_gallery  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail('CI must install the docs extra: pip install -e ".[docs]"')
        pytest.skip("the docs extra is not installed")
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-n", "-E", "-q", "-d", str(out / "doctrees"),
         str(ROOT / "docs"), str(out / "html")],
        capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return out / "html"


def test_the_site_builds_without_a_warning(site):
    assert (site / "index.html").is_file()


@pytest.mark.parametrize("name", TUTORIALS)
def test_every_tutorial_has_a_page_with_images_and_its_notebook(site, name):
    page_path = site / "tutorials" / f"{name}.html"
    assert page_path.is_file(), f"no page for {name}"
    page = _parse(page_path)
    own = [src for src in page.images if "sphx_glr_" in src]
    assert own, f"{name}: no image from its quick run"
    committed = [src for src in page.images if src.endswith(f"{name}.png")]
    assert committed, f"{name}: the committed figure is not shown"
    notebooks = [href for href in page.links if href.endswith(f"{name}.ipynb")]
    assert notebooks, f"{name}: no notebook download"
    assert (page_path.parent / unquote(notebooks[0])).is_file()


def test_every_public_name_has_an_api_page(site):
    missing = []
    for module_name in API_MODULES:
        module = importlib.import_module(module_name)
        if not (site / "generated" / f"{module_name}.html").is_file():
            missing.append(module_name)
        for name in getattr(module, "__all__", []):
            value = getattr(module, name)
            if isinstance(value, type(module)):
                continue  # a submodule: its own page above
            if not (site / "generated" / f"{module_name}.{name}.html").is_file():
                missing.append(f"{module_name}.{name}")
    assert not missing, f"no API page for {missing}"


def test_no_internal_link_is_broken(site):
    # _static/ holds the theme's assets (one is a Jinja macro file, not a page)
    pages = {p: _parse(p) for p in site.rglob("*.html") if "_static" not in p.parts}
    broken = []
    for path, page in pages.items():
        for ref in page.links + page.images:
            parts = urlsplit(ref)
            if parts.scheme or parts.netloc or ref.startswith(("mailto:", "javascript:")):
                continue
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if not target.exists():
                broken.append(f"{path.relative_to(site)} -> {ref}")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{path.relative_to(site)} -> {ref} (no such id)")
    assert not broken, f"{len(broken)} broken links, e.g. {broken[:10]}"
