"""Create the Whisper files of the series named on stdin (one per line), inside a carbon-cache container,
with carbon's own schema and aggregation rules (carbon.storage) and fallocate, as the cache would.

The benchmark's load steps then measure updates only; creating files is measured on its own (the
"creates" step lets the cache create brand-new series). Runs with the image's python3 and carbon:
``docker exec -i <cache> python3 -c "$(cat precreate.py)" < names``. Prints one JSON line.
"""

import json
import os
import sys
import time

import whisper
from carbon.conf import settings

settings["CONF_DIR"] = "/etc/carbon/"
from carbon.storage import loadAggregationSchemas, loadStorageSchemas  # noqa: E402 - reads CONF_DIR

ROOT = "/var/lib/graphite/whisper/"


def main() -> None:
    schemas, aggregations = loadStorageSchemas(), loadAggregationSchemas()
    started = time.monotonic()
    created = existing = 0
    for line in sys.stdin:
        metric = line.strip()
        if not metric:
            continue
        path = ROOT + metric.replace(".", "/") + ".wsp"
        if os.path.exists(path):
            existing += 1
            continue
        archives = next([a.getTuple() for a in s.archives] for s in schemas if s.matches(metric))
        xff, method = next(a.archives for a in aggregations if a.matches(metric))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        whisper.create(path, archives, xff, method, False, True)
        created += 1
    print(json.dumps({"created": created, "existing": existing, "seconds": time.monotonic() - started}))


main()
