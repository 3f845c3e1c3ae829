"""The documentation site (issue 14): built from the package and the tutorials.

The test builds the site the way README.md says, ``sphinx-build -W -n``
(every warning an error, every cross-reference checked), into a temporary
folder, with the tutorials run in quick mode by the gallery. It then reads
the HTML:

- every tutorial has a page, with at least one image of its own and a link
  to its notebook (``.ipynb``), which exists;
- every public name (each documented module's ``__all__``) has an API page;
- no internal link or image is broken: every relative ``href``/``src``
  names a file of the site, and every ``#fragment`` an id in that file;
- each tutorial's page says at its top that its output is a quick run; no
  tutorial page holds a ``mailto:`` link; at least 8 of the 10 typeset math;
- building leaves the committed ``figures/`` as they were (content hashes);
- every tutorial's notebook, as the site serves it, runs with
  ``jupyter nbconvert --execute`` in quick mode, from a temporary folder, and
  shows at least one figure inline (an ``image/png`` output).

The data check that stops an offline build (``docs_helpers.missing_data``) is
tested directly, without a build.

Without the docs extra the test is skipped, except in CI (``CI`` set), where
that is a failure: CI installs the extra.
"""

import hashlib
import importlib
import json
import os
import re
import shutil
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
               "deeplinear.gradcheck", "deeplinear.curvature", "deeplinear.completion",
               "deeplinear.spectral", "deeplinear.nuclear", "deeplinear.modes",
               "deeplinear.datasets", "deeplinear.experiments", "deeplinear.assignment"]

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


def _require_docs_extra(*modules):
    try:
        for name in ("numpydoc", "pydata_sphinx_theme", "sphinx_gallery") + modules:
            importlib.import_module(name)
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail('CI must install the docs extra: pip install -e ".[docs]"')
        pytest.skip("the docs extra is not installed")


def _figures_state():
    """Content hash of every file in the committed figures/ folder."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((ROOT / "figures").iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """Build the site once; return its folder and figures/ before and after."""
    _require_docs_extra()
    out = tmp_path_factory.mktemp("site")
    figures_before = _figures_state()
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-n", "-E", "-q", "-d", str(out / "doctrees"),
         str(ROOT / "docs"), str(out / "html")],
        capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return out / "html", figures_before, _figures_state()


@pytest.fixture(scope="module")
def site(build):
    return build[0]


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


def _tutorial_html(site, name):
    return (site / "tutorials" / f"{name}.html").read_text(encoding="utf-8")


def test_building_leaves_the_committed_figures_alone(build):
    _, before, after = build
    assert before, "figures/ is empty"
    changed = sorted(set(before.items()) ^ set(after.items()))
    assert not changed, f"the build changed figures/: {sorted({name for name, _ in changed})}"


@pytest.mark.parametrize("name", TUTORIALS)
def test_every_tutorial_page_says_its_output_is_a_quick_run(site, name):
    html = _tutorial_html(site, name)
    note = html.find("The output on this page comes from a quick run")
    assert note != -1, f"{name}: no quick-run note"
    # at the top: before the first code cell and before the first image of the quick run
    assert note < html.find('class="highlight-Python') and note < html.find("sphx_glr_" + name)
    assert f"figures/{name}.csv" in html


def test_no_tutorial_page_has_a_mailto_link(site):
    pages = [name for name in TUTORIALS if "mailto:" in _tutorial_html(site, name)]
    assert not pages, f"mailto: links (an '@' in the text read as an address) on {pages}"


def test_most_tutorial_pages_typeset_math(site):
    """MathJax typesets what Sphinx marks as math (``<span class="math ...">`` inline,
    ``<div class="math ...">`` displayed)."""
    typeset = [name for name in TUTORIALS
               if re.search(r'class="math[ "]', _tutorial_html(site, name))]
    assert len(typeset) >= 8, f"only {len(typeset)} of {len(TUTORIALS)} pages typeset math: {typeset}"


@pytest.mark.parametrize("name", TUTORIALS)
def test_every_notebook_of_the_site_runs_and_shows_a_figure(site, name, tmp_path):
    """The notebook as a reader downloads it, executed in quick mode from an empty folder
    (no ``__file__``, not the repository), with the backend that Jupyter chooses."""
    _require_docs_extra("nbconvert", "ipykernel", "nbformat")
    page = _parse(site / "tutorials" / f"{name}.html")
    href = next(h for h in page.links if h.endswith(f"{name}.ipynb"))
    notebook = tmp_path / f"{name}.ipynb"
    shutil.copyfile(site / "tutorials" / unquote(href), notebook)
    env = {**os.environ, "DEEPLINEAR_QUICK": "1", "DEEPLINEAR_QUIET_COMPILE": "1",
           "DEEPLINEAR_FIGURES_DIR": str(tmp_path / "figures")}
    env.pop("MPLBACKEND", None)  # CI's Agg would stop the inline figures
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
         "--ExecutePreprocessor.timeout=600", "--output", f"{name}.out", str(notebook)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    executed = json.loads((tmp_path / f"{name}.out.ipynb").read_text(encoding="utf-8"))
    images = sum("image/png" in output.get("data", {})
                 for cell in executed["cells"] for output in cell.get("outputs", []))
    assert images >= 1, f"{name}: no inline figure in the executed notebook"


# The data check that runs before the gallery (docs/conf.py): no build needed.

def _docs_helpers():
    _require_docs_extra()
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        return importlib.import_module("docs_helpers")
    finally:
        sys.path.remove(str(ROOT / "docs"))


def test_the_data_check_names_the_tutorials_and_ends_with_the_data_message(tmp_path):
    from deeplinear.datasets import DataUnavailableError

    helpers = _docs_helpers()
    scripts = sorted((ROOT / "tutorials").glob("[0-9][0-9]_*.py"))
    data_message = "abalone: no local copy of abalone.data and the download failed (offline)."

    def load(name):
        if name == "abalone":
            raise DataUnavailableError(data_message)

    # nothing cached in an empty gallery folder: every tutorial would run
    message = helpers.missing_data(scripts, tmp_path, load=load)
    assert message is not None
    first, *rest = message.splitlines()
    needing = sorted(p.stem for p in scripts if "abalone" in helpers.data_sets_needed(p))
    assert needing and all(name in first for name in needing), first
    assert not any(p.stem in first for p in scripts if p.stem not in needing), first
    assert rest == [data_message]
    # every data set loads: nothing to say
    assert helpers.missing_data(scripts, tmp_path, load=lambda name: None) is None


def test_the_data_check_ignores_tutorials_whose_output_is_cached(tmp_path):
    from deeplinear.datasets import DataUnavailableError

    helpers = _docs_helpers()
    script = ROOT / "tutorials" / "02_end_to_end_dynamics.py"
    assert helpers.data_sets_needed(script) == {"abalone"}

    def load(name):
        raise DataUnavailableError(f"{name}: unavailable")

    assert helpers.missing_data([script], tmp_path, load=load) is not None
    # as sphinx-gallery leaves it after a run: the script, its page and its md5
    from sphinx_gallery.utils import get_md5sum

    shutil.copyfile(script, tmp_path / script.name)
    (tmp_path / f"{script.stem}.rst").write_text("cached")
    (tmp_path / f"{script.name}.md5").write_text(get_md5sum(script, mode="t"))
    assert helpers.missing_data([script], tmp_path, load=load) is None
