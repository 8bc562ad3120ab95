"""graphite-web 1.1 from PyPI, configured once per test run around a temporary Whisper directory.

The function plugin under test (carbon/histogram_functions.py) and the settings that load it
(carbon/local_settings.py) are imported the way the image imports them: as top-level modules.
"""
from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CARBON = HERE.parents[1] / "carbon"
ROOT = tempfile.mkdtemp(prefix="graphite-test-")
atexit.register(shutil.rmtree, ROOT, True)
for sub in ("whisper", "log"):
    os.makedirs(os.path.join(ROOT, sub))
os.environ.update({
    "GRAPHITE_TEST_ROOT": ROOT,
    "GRAPHITE_SECRET_KEY": "unit-tests-only",
    "GRAPHITE_SETTINGS_MODULE": "graphite_test_settings",
    "DJANGO_SETTINGS_MODULE": "graphite.settings",
})
sys.path[:0] = [str(HERE), str(CARBON)]

import warnings  # noqa: E402

import django  # noqa: E402

with warnings.catch_warnings():  # see pytest_configure
    warnings.simplefilter("ignore")
    django.setup()
    import graphite.render.views  # noqa: F401 - imported here, its import-time warnings with the rest


def pytest_configure(config):
    # graphite-web 1.1, django-tagging and Django 3.0 use APIs that newer Pythons, Django and pyparsing
    # deprecate: not ours to fix, and noise in every run.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning")
    config.addinivalue_line("filterwarnings", "ignore::PendingDeprecationWarning")


@pytest.fixture(scope="session")
def whisper_dir() -> Path:
    return Path(ROOT) / "whisper"
