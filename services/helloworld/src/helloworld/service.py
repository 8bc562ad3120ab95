"""Wiring: configuration -> registry, web site, runtime probes and reporters -> a running reactor.

The service object owns everything that must be stopped in order on SIGTERM: first the listening port (no
new connections), then the lag probe, then the runner, which sends one final report before the reactor
exits. ``main`` is what ``python3 -m helloworld`` runs.
"""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Mapping
from typing import Any

from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.error import CannotListenError

from graphmetrics.registry import MetricsRegistry

from .config import Config, ConfigError, load_config
from .edge import HelloWorldSite
from .runtime import LAG_METRIC, ReactorLagProbe, register_process_gauges
from .web import HelloWorldResource

__all__ = ["HelloWorldService", "build_reporters", "freeze_startup_heap", "main", "STOP_DEADLINE"]

log = logging.getLogger("helloworld")

STOP_DEADLINE = 3.0
"""Seconds the final report may take on SIGTERM; well inside Docker's default 10 s stop timeout."""

EXPORT_BUCKETS: Any = True
"""What every reporter is given as ``export_buckets``: the histograms' and timers' sketch buckets go out
as ``<name>.buckets.<bound>``, so Graphite's ``histogramPercentile`` can read fleet-true percentiles
(docs/reporting.md); their series count is in docs/capacity.md."""


def build_reporters(config: Config, registry: MetricsRegistry) -> list[Any]:
    """The reporters ``config`` asks for: carbon unless ``CARBON_HOST`` is empty, Hosted Graphite if keyed."""
    reporters: list[Any] = []
    if config.carbon_enabled:
        from graphmetrics.reporters.carbon import CarbonReporter

        reporters.append(
            CarbonReporter(
                registry, config.carbon_host, config.carbon_port,
                protocol=config.carbon_protocol, prefix=config.metrics_root, export_buckets=EXPORT_BUCKETS,
            )
        )
    if config.hostedgraphite_api_key:
        from graphmetrics.reporters.hostedgraphite import HostedGraphiteReporter

        options: dict[str, Any] = {"transport": config.hostedgraphite_transport}
        if config.hostedgraphite_host:
            options["host"] = config.hostedgraphite_host
        if config.hostedgraphite_port:
            options["port"] = config.hostedgraphite_port
        reporters.append(
            HostedGraphiteReporter(
                registry, api_key=config.hostedgraphite_api_key, prefix=config.metrics_root,
                export_buckets=EXPORT_BUCKETS, **options,
            )
        )
    return reporters


class HelloWorldService:
    """One replica: its registry, its HTTP port, its runtime probes and its reporting loop."""

    def __init__(
        self,
        config: Config,
        reactor: Any,
        registry: MetricsRegistry | None = None,
        reporters: list[Any] | None = None,
    ) -> None:
        self.config = config
        self.registry = registry if registry is not None else MetricsRegistry()
        self._reactor = reactor
        self.site = HelloWorldSite(HelloWorldResource(self.registry, off_thread=self._in_thread_pool), self.registry, reactor=reactor)
        register_process_gauges(self.registry)
        self._lag_probe = ReactorLagProbe(reactor, self.registry.histogram(LAG_METRIC))
        self._reporters = build_reporters(config, self.registry) if reporters is None else reporters
        self._runner: Any = None
        self.port: Any = None
        """The ``IListeningPort`` while listening."""

    def _in_thread_pool(self, work: Any) -> Deferred[bytes]:
        from twisted.internet.threads import deferToThreadPool

        return deferToThreadPool(self._reactor, self._reactor.getThreadPool(), work)

    def start(self) -> Any:
        """Listen on ``0.0.0.0:LISTEN_PORT`` and start probing and reporting; raise if the port is taken.

        Returns the ``IListeningPort``.
        """
        port = self.port = self._reactor.listenTCP(self.config.listen_port, self.site, interface="0.0.0.0")
        self.site.listening(port)
        self._lag_probe.start()
        if self._reporters:
            from graphmetrics.runners.twisted import TwistedRunner

            self._runner = TwistedRunner(self._reporters, self.config.report_interval, reactor=self._reactor)
            self._runner.start()
        return port

    def stop(self) -> Deferred[Any]:
        """Stop accepting connections, then send the final report; fires when both are done."""
        stopped: Deferred[Any] = maybeDeferred(self.port.stopListening) if self.port else succeed(None)
        self.port = None
        self._lag_probe.stop()
        runner, self._runner = self._runner, None
        if runner is not None:
            stopped.addCallback(lambda _: runner.stop(deadline=STOP_DEADLINE))
        stopped.addErrback(lambda failure: log.error("error while stopping: %s", failure.getErrorMessage()))
        return stopped


def configure_logging(level: str) -> None:
    """stdlib logging on stderr, and Twisted's own log events routed into it."""
    from twisted.logger import STDLibLogObserver, globalLogBeginner

    logging.basicConfig(
        stream=sys.stderr, level=getattr(logging, level), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    globalLogBeginner.beginLoggingTo([STDLibLogObserver()], redirectStandardIO=False)  # type: ignore[list-item]


def main(
    environ: Mapping[str, str] | None = None, reactor: Any = None, registry: MetricsRegistry | None = None
) -> int:
    """Run the service until SIGTERM/SIGINT; 0 on a clean stop, 2 on bad configuration, 1 if it cannot listen.

    ``registry`` lets a caller (the end-to-end benchmark) pre-load metrics; by default it is a new one.
    """
    try:
        config = load_config(environ)
    except ConfigError as error:
        print(f"helloworld: configuration error: {error}", file=sys.stderr)
        return 2
    if reactor is None:
        from twisted.internet import reactor as default_reactor

        reactor = default_reactor
    configure_logging(config.log_level)
    service = HelloWorldService(config, reactor, registry)
    try:
        port = service.start()
    except CannotListenError as error:  # taken, or not ours to take: say it plainly, no traceback
        print(f"helloworld: cannot listen on port {config.listen_port}: {error.socketError}", file=sys.stderr)
        return 1
    reactor.addSystemEventTrigger("before", "shutdown", service.stop)
    freeze_startup_heap()
    log.info(
        "listening on 0.0.0.0:%d, metrics under %s, reporting %s every %gs",
        port.getHost().port, config.metrics_root,
        _describe_reporting(config), config.report_interval,
    )
    reactor.run()
    log.info("stopped")
    return 0


def freeze_startup_heap() -> None:
    """Leave everything built so far (modules, the registry and its metrics) out of every later
    garbage collection.

    Those objects live until exit, yet a full collection walks all of them, with every thread
    stopped: with a 50,000-metric registry that is tens of milliseconds of stalled reactor each time.
    Frozen, they cost nothing per collection; the garbage start-up left is collected first.
    """
    gc.collect()
    gc.freeze()


def _describe_reporting(config: Config) -> str:
    targets = []
    if config.carbon_enabled:
        targets.append(f"carbon {config.carbon_protocol}://{config.carbon_host}:{config.carbon_port}")
    if config.hostedgraphite_api_key:
        targets.append(f"hostedgraphite ({config.hostedgraphite_transport})")
    return " and ".join(targets) or "nowhere (CARBON_HOST is empty)"
