"""``python3 -m helloworld.loadgen``: send the request mix to ``TARGET_URL`` until a bound or SIGTERM."""

from __future__ import annotations

import logging
import random
import signal
import sys
from types import FrameType

from .driver import HttpSender, SettingsError, load_settings, run
from .mix import RequestMix


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"helloworld.loadgen: configuration error: {error}", file=sys.stderr)
        return 2
    stop_requested: list[int] = []

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop_requested.append(signum)

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    logging.getLogger("helloworld.loadgen").info(
        "sending %.1f req/s to %s (bad fraction %.3f, at most %d requests%s)",
        settings.rate, settings.target_url, settings.bad_fraction, settings.max_requests,
        f", {settings.duration:g} s" if settings.duration else "",
    )
    sender = HttpSender(settings.target_url, settings.timeout)
    try:
        run(settings, RequestMix(random.Random(settings.seed), settings.bad_fraction), sender,
            stopping=lambda: bool(stop_requested))
    finally:
        sender.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
