from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from cpstest import copy_fixture  # noqa: E402


@pytest.fixture
def repo(tmp_path) -> Path:
    """A fresh copy of the clean fixture specification."""
    return copy_fixture(tmp_path / "repo")
