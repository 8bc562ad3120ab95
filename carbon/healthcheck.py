#!/usr/bin/python3
"""Container health check using only what the image has: `carbon` = the cache and the aggregator accept a
connection; `graphite` = the render API answers JSON."""
import socket
import sys
import urllib.request

role = sys.argv[1] if len(sys.argv) > 1 else "carbon"
try:
    if role == "carbon":
        for port in (2004, 2024):  # carbon-cache and carbon-aggregator (the query port logs every connection)
            socket.create_connection(("127.0.0.1", port), timeout=3).close()
    else:
        url = "http://127.0.0.1:8080/render?target=carbon.*&from=-1min&format=json"
        with urllib.request.urlopen(url, timeout=5) as reply:
            if reply.status != 200 or not reply.read(1).startswith(b"["):
                raise RuntimeError("render API did not answer JSON")
except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
    print(f"unhealthy: {exc}")
    sys.exit(1)
