"""Sphinx configuration: the site of deeplinear, built from the package itself.

    pip install -e ".[docs]"
    sphinx-build -W -n docs docs/_build/html      # warnings are errors, nitpicky

The gallery runs every tutorial in quick mode during the build (its
printed output and figures come from the code as it is), writing its figures
into ``docs/_build/quick_figures`` so that the committed full-mode figures
in ``figures/`` are never overwritten; each page also shows the committed
figure. The API pages are generated from the numpydoc docstrings.
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
autosummary_context = {"submodules": ["curvature", "datasets", "gradcheck", "init", "losses",
                                      "optim"]}
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
    "reset_modules": ("matplotlib", "docs_helpers.set_file"),
}

html_theme = "pydata_sphinx_theme"
html_title = f"deeplinear {release}"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
# The tutorials' pages without the left sidebar: their code lines run to 100
# characters, and the page's own table of contents stays on the right.
html_sidebars = {"tutorials/[0-9]*": []}
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
    app.connect("builder-inited", _main_command_help)
    app.connect("source-read", docs_helpers.add_committed_figure)
