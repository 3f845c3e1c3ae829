"""Sphinx configuration: the site of deeplinear, built from the package itself.

    pip install -e ".[docs]"
    sphinx-build -W -n docs docs/_build/html      # warnings are errors, nitpicky

The gallery runs every tutorial in quick mode during the build (its
printed output and figures come from the code as it is), writing its figures
into ``docs/_build/quick_figures`` so that the committed full-mode figures
in ``figures/`` are never overwritten; each page says so at its top, shows the
committed figure at its bottom, and the gallery's thumbnails are the committed
figures. Before the gallery runs, the data its tutorials need is checked: if it
cannot be loaded, the build stops with the data message (no traceback). The API
pages are generated from the numpydoc docstrings.
"""

import os
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS))  # docs_helpers

# The tutorials in quick mode, their figures out of the repository's figures/.
os.environ["DEEPLINEAR_QUICK"] = "1"
os.environ["DEEPLINEAR_FIGURES_DIR"] = str(DOCS / "_build" / "quick_figures")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("DEEPLINEAR_QUIET_COMPILE", "1")

import deeplinear  # noqa: E402
import docs_helpers  # noqa: E402

project = "deeplinear"
author = "the deeplinear developers"
copyright = "2026, the deeplinear developers"
release = version = deeplinear.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax served with the site: equations render offline too
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "tutorials/*.ipynb", "tutorials/*.py", "tutorials/*.zip",
                    "tutorials/*.json", "tutorials/*.md5"]
templates_path = ["_templates"]
# `x` in the tutorials' prose and in docstrings is code, as in the .py files.
default_role = "code"

# API pages: one per public name (the modules' __all__), from the numpydoc docstrings.
autosummary_generate = True
autosummary_imported_members = True
autosummary_ignore_module_all = False  # each module's __all__ is its public names
# Names in a module's __all__ that are submodules (documented on their own page).
autosummary_context = {"submodules": ["completion", "curvature", "datasets", "gradcheck", "init",
                                      "losses", "modes", "nuclear", "optim", "spectral"]}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# README's sections are included into the pages (myst); headings start at ##.
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]
# numpydoc lists a docstring's References as citations even when its text
# does not cite them: that is not a broken link.
suppress_warnings = ["myst.header", "ref.citation"]

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "tutorials"),
    "gallery_dirs": "tutorials",
    "filename_pattern": r"/\d\d_",
    "ignore_pattern": r"run_all\.py",
    "image_scrapers": ("docs_helpers.saved_figures",),
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "abort_on_example_error": True,
    "remove_config_comments": True,
    "show_memory": False,
    "reset_modules": ("matplotlib", "docs_helpers.before_each_tutorial"),
    # the figures' thumbnails are replaced by the committed figures (docs_helpers),
    # at a size that the gallery's two columns show readably
    "thumbnail_size": (800, 520),
}



def _check_data(app, config):
    """Offline, without the data and without a cached gallery, stop before the gallery
    runs, with the data message itself: the gallery would fail with a Sphinx
    "Extension error" around it, and any exception here would come with Sphinx's own
    crash report. SystemExit is the one that Sphinx lets through as it is."""
    missing = docs_helpers.missing_data(
        sorted((ROOT / "tutorials").glob("[0-9][0-9]_*.py")), DOCS / "tutorials")
    if missing:
        raise SystemExit(f"docs: {missing}")

html_theme = "pydata_sphinx_theme"
html_title = f"deeplinear {release}"
# One sidebar, on the left of every page: the whole site (the current branch open),
# then this page's contents. No right-hand sidebar and no page list in the header:
# the text column gets the width that a 100-character code line needs at 1280 px
# (docs/_static/deeplinear.css); below that, code, output and tables scroll.
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_center": [],
    "secondary_sidebar_items": [],
    "collapse_navigation": True,
}
html_sidebars = {"**": ["site-nav", "page-toc", "sourcelink"]}
html_static_path = ["_static"]
html_css_files = ["deeplinear.css"]


def _main_command_help(app):
    """The main command's --help, for the page about it (generated, not copied)."""
    out = DOCS / "_generated"
    out.mkdir(exist_ok=True)
    text = subprocess.run([sys.executable, "-m", "deeplinear.experiments", "--help"],
                          capture_output=True, text=True, check=True,
                          env=dict(os.environ, COLUMNS="100")).stdout
    (out / "main_command_help.txt").write_text(text)


def setup(app):
    app.connect("config-inited", _check_data)
    app.connect("builder-inited", docs_helpers.remove_stale_stubs, priority=400)  # before autosummary
    app.connect("builder-inited", _main_command_help)
    app.connect("builder-inited", docs_helpers.committed_thumbnails, priority=900)  # after the gallery
    app.connect("source-read", docs_helpers.add_quick_run_note)
    app.connect("source-read", docs_helpers.add_committed_figure)
