"""mkdocs hook used by ``cps preview``: regenerate the pages from the sources before each build.

Only files whose content changed are rewritten, so the regeneration itself does not trigger
another reload.
"""

from __future__ import annotations

import os
from pathlib import Path


def on_pre_build(config, **kwargs):
    from cps.build import render_docs
    from cps.loader import load

    root = Path(os.environ["CPS_PREVIEW_ROOT"])
    docs = Path(os.environ["CPS_PREVIEW_DOCS"])
    written = render_docs(load(root), docs)
    for path in docs.rglob("*.md"):
        if path not in written:
            path.unlink()
