"""Sphinx configuration: the Markdown pages of docs/ and the API reference rendered from
the numpydoc docstrings. Build with ``sphinx-build -W -b html docs docs/_build``
(``tests/test_docs.py`` does, with warnings as errors)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import survrad  # noqa: E402

project = "survrad"
author = "the survrad authors"
copyright = "the survrad authors"
release = survrad.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

# numpydoc-style docstrings through napoleon; types are in the docstrings
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_param = False   # types as text: "(n,)" is not a cross-reference
napoleon_preprocess_types = False
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": False}
autodoc_inherit_docstrings = False
# ``:class:`~survrad.x.Y``` cross-references are resolved when the target is documented;
# the others (private helpers, third-party classes) are plain text, not warnings
nitpicky = False
# words of a type such as "ndarray (n,)" are tried as cross-references; "n" naming two
# attributes is ambiguous, not an error of the docs
suppress_warnings = ["myst.xref_missing", "ref.python"]

html_theme = "alabaster"
html_title = f"survrad {release}"
html_show_sourcelink = False


def _skip_member(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated metadata-routing methods (set_*_request)."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
