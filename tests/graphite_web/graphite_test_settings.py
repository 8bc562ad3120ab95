"""graphite-web settings for the unit tests: the stack's carbon/local_settings.py (so FUNCTION_PLUGINS is
the one the image uses), with its paths moved to the test run's temporary directory."""
import os

from local_settings import *  # noqa: F401,F403 - the settings under test

_root = os.environ["GRAPHITE_TEST_ROOT"]
STORAGE_DIR = _root
WHISPER_DIR = os.path.join(_root, "whisper")
LOG_DIR = os.path.join(_root, "log")
INDEX_FILE = os.path.join(_root, "index")
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(_root, "graphite.db")}}
CARBONLINK_HOSTS = []  # no carbon-cache: every point is read from the Whisper files the tests write
