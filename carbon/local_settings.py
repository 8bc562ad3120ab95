"""graphite-web settings for the container (Debian's package reads them as the top-level module
`local_settings` from PYTHONPATH=/etc/graphite)."""
import os

SECRET_KEY = os.environ["GRAPHITE_SECRET_KEY"]  # required: the packaged default is literally UNSAFE_DEFAULT
TIME_ZONE = os.environ.get("TZ", "UTC")
ALLOWED_HOSTS = ["*"]  # published on 127.0.0.1 only; reached by name inside the compose network

STORAGE_DIR = "/var/lib/graphite"
WHISPER_DIR = "/var/lib/graphite/whisper"
LOG_DIR = "/var/log/graphite"
INDEX_FILE = "/var/lib/graphite-web/index"
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/var/lib/graphite-web/graphite.db"},
}

# Points still in carbon-cache's memory are read through carbonlink, so a report is queryable at once.
CARBONLINK_HOSTS = os.environ.get("CARBONLINK_HOSTS", "carbon:7002:a").split(",")
CARBONLINK_TIMEOUT = 2.0
# Cluster mode (compose profile `cluster`): the other graphite-webs to fan queries out to.
CLUSTER_SERVERS = [s for s in os.environ.get("CLUSTER_SERVERS", "").split(",") if s]
REMOTE_FIND_CACHE_DURATION = 0
DEFAULT_CACHE_DURATION = 0

# histogramPercentile(s): fleet percentiles from bucket series (histogram_functions.py beside this file).
FUNCTION_PLUGINS = ["histogram_functions"]
# Raise a function's InputParameterError as a 400 with its own message; the packaged default (False)
# logs it and answers 400 "unknown token in target evaluator" instead, which says nothing. It also makes
# every function's declared parameter types strict (a 400 instead of a logged warning).
ENFORCE_INPUT_VALIDATION = True
