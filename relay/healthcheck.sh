#!/bin/bash
# Healthy = the line receiver accepts a TCP connection (bash's /dev/tcp: the image has no other client).
# The connection carries nothing, so the relay only counts a connect and a disconnect.
exec timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/2003' 2>/dev/null
