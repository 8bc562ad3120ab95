"""pyformance compatibility: every module path and public signature of pyformance 0.4, and the same
application code running against both libraries after renaming the imports."""

from __future__ import annotations

import importlib
import inspect
import math
import sys
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pyformance
import pytest

import graphmetrics.compat.pyformance as compat
from graphmetrics import ManualClock
from graphmetrics.names import sanitize_name

OURS = "graphmetrics.compat.pyformance"

MODULES = [
    "pyformance",
    "pyformance.meters",
    "pyformance.meters.counter",
    "pyformance.meters.gauge",
    "pyformance.meters.histogram",
    "pyformance.meters.meter",
    "pyformance.meters.timer",
    "pyformance.registry",
    "pyformance.stats",
    "pyformance.stats.snapshot",
    "pyformance.stats.moving_average",
    "pyformance.stats.samples",
    "pyformance.reporters",
    "pyformance.reporters.reporter",
    "pyformance.reporters.carbon_reporter",
    "pyformance.reporters.console_reporter",
]
"""pyformance's public modules (``hosted_graphite_reporter`` imports Python 2's urllib2: below)."""

NOT_PROVIDED = {"CsvReporter", "NewRelicReporter", "InfluxReporter", "OpenTSDBReporter"}
"""Reporters for other backends, listed as absent in docs/library.md."""

PLUMBING = {"create_thread"}
"""pyformance's reporter thread set-up (ours run a ThreadRunner), listed in docs/library.md."""

HOSTED_GRAPHITE_SIGNATURE = "(hosted_graphite_api_key, registry=None, reporting_interval=10, " \
    "url='https://hostedgraphite.com/api/v1/sink', clock=None)"
"""pyformance 0.4's documented constructor (its module cannot be imported on Python 3)."""


@pytest.fixture(autouse=True)
def fresh_global_registries() -> Iterator[None]:
    saved = pyformance.global_registry(), compat.global_registry()
    pyformance.set_global_registry(pyformance.MetricsRegistry())
    compat.set_global_registry(compat.MetricsRegistry())
    yield
    pyformance.set_global_registry(saved[0])
    compat.set_global_registry(saved[1])


def ours(module: str) -> ModuleType:
    return importlib.import_module(module.replace("pyformance", OURS, 1))


def public_names(module: ModuleType) -> list[str]:
    """What a user imports from ``module``: everything of a package, what a module defines itself."""
    package = hasattr(module, "__path__")
    return [
        name for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, ModuleType) and name not in NOT_PROVIDED
        and str(getattr(value, "__module__", "")).startswith("pyformance")
        and (package or value.__module__ == module.__name__ or module.__name__.endswith("stats.samples"))
    ]


@pytest.mark.parametrize("name", MODULES)
def test_every_module_path_imports_and_has_every_public_name(name: str) -> None:
    theirs, mine = importlib.import_module(name), ours(name)
    missing = [attr for attr in public_names(theirs) if not hasattr(mine, attr)]
    assert not missing
    assert hasattr(compat, "call_too_long") and compat.call_too_long is None  # pyformance without blinker


def test_the_seeds_imports_work() -> None:
    from graphmetrics.compat.pyformance.meters import Counter, Histogram, Meter, Timer  # noqa: F401
    from graphmetrics.compat.pyformance.registry import MetricsRegistry  # noqa: F401
    from graphmetrics.compat.pyformance.reporters import HostedGraphiteReporter  # noqa: F401
    from graphmetrics.compat.pyformance.stats.moving_average import ExpWeightedMovingAvg  # noqa: F401
    from graphmetrics.compat.pyformance.stats.snapshot import Snapshot  # noqa: F401


# -- signatures --------------------------------------------------------------------------------------

EMPTY = inspect.Parameter.empty
VAR = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def same_default(theirs: Any, mine: Any) -> bool:
    if theirs is EMPTY:
        return True  # we may add a default where pyformance requires the argument
    if theirs is time:
        return mine is None  # pyformance's system clock; our None is the system clock, read monotonically
    if isinstance(theirs, float) and math.isnan(theirs):
        return isinstance(mine, float) and math.isnan(mine)
    return bool(theirs == mine) and type(theirs) is type(mine)


def signature_mismatches(theirs: inspect.Signature, mine: inspect.Signature) -> list[str]:
    """Why a call valid for ``theirs`` could fail or mean something else for ``mine`` (empty: none)."""
    problems = []
    their_params = list(theirs.parameters.values())
    my_positional = [p.name for p in mine.parameters.values() if p.kind in POSITIONAL]
    for index, param in enumerate(p for p in their_params if p.kind in POSITIONAL):
        if index >= len(my_positional) or my_positional[index] != param.name:
            problems.append(f"positional {index} is {param.name!r} in pyformance")
    for param in their_params:
        if param.kind in VAR:
            if not any(p.kind == param.kind for p in mine.parameters.values()):
                problems.append(f"no {param}")
            continue
        mine_param = mine.parameters.get(param.name)
        if mine_param is None:
            problems.append(f"no parameter {param.name!r}")
        elif not same_default(param.default, mine_param.default):
            problems.append(f"{param.name}: default {mine_param.default!r}, pyformance {param.default!r}")
    for param in mine.parameters.values():
        if param.name not in theirs.parameters and param.kind not in VAR and param.default is EMPTY:
            problems.append(f"extra required parameter {param.name!r}")
    return problems


def instance(cls: type, registry: Any) -> Any:
    """An instance of a pyformance class or of its counterpart, built with documented arguments."""
    args: dict[str, tuple[Any, ...]] = {
        "CallbackGauge": (lambda: 1,), "Snapshot": ([1, 2],), "ExpWeightedMovingAvg": (1,),
    }
    if cls.__name__.endswith("Reporter"):
        return cls(registry)
    return cls(*args.get(cls.__name__, ()))


def callables_of(module: ModuleType) -> Iterator[tuple[str, Callable[..., Any], Callable[[Any], Any]]]:
    """``(label, pyformance callable, how to find ours in the counterpart module)``: module functions,
    class constructors and every public method (read from instances: some of ours are per instance)."""
    for name in public_names(module):
        value = getattr(module, name)
        if inspect.isfunction(value):
            if str(inspect.signature(value)) == "(*args, **kwargs)":
                continue  # pyformance.reporters' lazy factories: the classes are checked in their modules
            yield name, value, lambda mod, name=name: getattr(mod, name)
        elif inspect.isclass(value) and name not in ("Reporter", "TimerContext"):  # made by the library only
            yield name, value, lambda mod, name=name: getattr(mod, name)
            theirs_obj = instance(value, pyformance.MetricsRegistry())
            for method in dir(value):
                if not method.startswith("_") and method not in PLUMBING and callable(getattr(theirs_obj, method)):
                    yield (f"{name}.{method}", getattr(theirs_obj, method),
                           lambda mod, name=name, method=method: getattr(
                               instance(getattr(mod, name), compat.MetricsRegistry()), method))


SIGNATURE_CASES = [
    pytest.param(module, label, theirs, find, id=f"{module}:{label}")
    for module in MODULES
    for label, theirs, find in callables_of(importlib.import_module(module))
]


@pytest.mark.parametrize(("module", "label", "theirs", "find"), SIGNATURE_CASES)
def test_every_public_signature_takes_pyformances_arguments(
    module: str, label: str, theirs: Callable[..., Any], find: Callable[[ModuleType], Any]
) -> None:
    mine = find(ours(module))
    their_signature = inspect.signature(theirs)
    try:
        my_signature = inspect.signature(mine)
    except ValueError:  # a C method without a text signature (the speedups): it must take no argument
        assert list(their_signature.parameters) == [], label
        mine()
        return
    assert not signature_mismatches(their_signature, my_signature), (label, str(my_signature))


def test_hosted_graphite_reporters_documented_signature() -> None:
    from graphmetrics.compat.pyformance.reporters.hosted_graphite_reporter import HostedGraphiteReporter

    def documented(hosted_graphite_api_key, registry=None, reporting_interval=10,  # type: ignore[no-untyped-def]
                   url="https://hostedgraphite.com/api/v1/sink", clock=None):
        """pyformance 0.4's HostedGraphiteReporter.__init__, as its reference documents it."""

    assert str(inspect.signature(documented)) == HOSTED_GRAPHITE_SIGNATURE
    mismatches = signature_mismatches(inspect.signature(documented), inspect.signature(HostedGraphiteReporter))
    assert not mismatches


def test_the_checker_can_fail() -> None:
    def theirs(key, gauge=None, default=float("nan")):  # type: ignore[no-untyped-def]
        pass

    def tags_third(key, gauge=None, tags=None):  # type: ignore[no-untyped-def]
        pass

    def other_default(key, gauge=None, default=0.0):  # type: ignore[no-untyped-def]
        pass

    assert signature_mismatches(inspect.signature(theirs), inspect.signature(tags_third))
    assert signature_mismatches(inspect.signature(theirs), inspect.signature(other_default))
    assert not signature_mismatches(inspect.signature(theirs), inspect.signature(theirs))


# -- the same application code on both ---------------------------------------------------------------


def application(lib: ModuleType) -> dict[str, dict[str, float]]:
    """Code written for pyformance: explicit registry, module helpers, decorators, read-out calls."""
    registry = lib.MetricsRegistry(clock=time)
    registry.counter("requests").inc()
    registry.counter("requests").inc(val=2)
    registry.counter("requests").dec(val=1)
    for value in (5, 10, 15, 20):
        registry.histogram("sizes").add(value)
    registry.meter("hits").mark(value=3)
    with registry.timer("latency").time():
        pass
    registry.gauge("queue", lambda: 7)
    registry.gauge("preset", default=0)
    registry.gauge("callback", gauge=lambda: 2)
    lib.counter("global_counter").inc(4)
    lib.histogram("global_hist").add(2)
    lib.meter("global_meter").mark()
    with lib.timer("global_timer").time(fn="work"):
        pass
    lib.gauge("global_gauge", lambda: 1.5)

    @lib.count_calls
    def counted() -> int:
        return 1

    @lib.meter_calls
    def metered() -> int:
        return 2

    @lib.time_calls
    def timed() -> int:
        return 3

    assert counted() + metered() + timed() == 6
    assert registry.get_metrics("requests") == {"count": 2}
    assert registry._get_counter_metrics("sizes") == {}
    assert registry._get_histogram_metrics("requests") == {}
    assert set(registry._get_meter_metrics("hits")) >= {"count", "mean_rate", "1m_rate"}
    assert registry._get_timer_metrics("latency")["count"] == 1
    assert registry._get_gauge_metrics("queue") == {"value": 7}
    assert registry._get_gauge_metrics("preset") == {"value": 0}
    return {**registry.dump_metrics(), **lib.dump_metrics()}


def test_the_same_application_code_runs_on_both() -> None:
    theirs = {sanitize_name(key): fields for key, fields in application(pyformance).items()}
    mine = application(compat)
    assert set(mine) == set(theirs)  # same metrics, under names made safe for Graphite
    for key, fields in theirs.items():
        assert set(mine[key]) >= set(fields), key  # every field pyformance users graph is there
        if "count" in fields:
            assert mine[key]["count"] == fields["count"] and type(mine[key]["count"]) is int, key
    for field in ("avg", "min", "max", "count"):
        assert mine["sizes"][field] == theirs["sizes"][field]
    assert mine["sizes"]["std_dev"] == pytest.approx(theirs["sizes"]["std_dev"])
    assert mine["latency"]["max"] < 0.5 and theirs["latency"]["max"] < 0.5  # both in seconds
    assert mine["application._locals_.counted_calls"] == {"count": 1} and mine["queue"] == {"value": 7}
    assert mine["preset"] == {"value": 0} and mine["callback"] == {"value": 2}


def test_hist_calls_works_where_pyformances_fails() -> None:
    @pyformance.hist_calls
    def broken() -> int:
        return 42

    with pytest.raises(AttributeError):  # pyformance calls Histogram.update, which it never defined
        broken()

    @compat.hist_calls
    def works() -> int:
        return 42

    assert works() == 42 and works() == 42
    fields = compat.dump_metrics()[sanitize_name(f"{works.__qualname__}_calls")]
    assert fields["count"] == 2 and fields["max"] == 42


def test_one_name_one_metric_instead_of_pyformances_silent_merge() -> None:
    theirs = pyformance.MetricsRegistry()
    theirs.counter("x").inc()
    theirs.meter("x").mark()
    assert set(theirs.dump_metrics()["x"]) > {"count"}  # two metrics folded into one report
    mine = compat.MetricsRegistry()
    mine.counter("x").inc()
    with pytest.raises(TypeError, match="is a counter, not a meter"):
        mine.meter("x")


def test_timers_report_seconds_like_pyformance_and_can_take_another_unit() -> None:
    clock = ManualClock()
    registry = compat.MetricsRegistry(clock=clock)
    with registry.timer("s").time():
        clock.advance(0.5)
    with registry.timer("ms", unit="ms").time():
        clock.advance(0.5)
    assert registry.get_metrics("s")["max"] == 0.5 and registry.get_metrics("ms")["max"] == 500.0


def test_clear_and_set_global_registry_take_duck_typed_registries() -> None:
    compat.counter("a").inc()
    compat.clear()
    assert compat.dump_metrics() == {}
    mine = compat.MetricsRegistry()
    compat.set_global_registry(mine)
    compat.counter("b").inc()
    assert compat.global_registry() is mine and mine.dump_metrics() == {"b": {"count": 1}}
    theirs = pyformance.MetricsRegistry()
    compat.set_global_registry(theirs)  # pyformance accepts any object with the registry's methods

    @compat.count_calls
    def work() -> None:
        pass

    work()
    compat.counter("c").inc(val=2)
    assert theirs.dump_metrics()["c"] == {"count": 2}
    assert theirs.dump_metrics()[f"{work.__qualname__}_calls"] == {"count": 1}


def test_decaying_reservoir_matches_pyformances_default_sampling_but_weighs_quantiles() -> None:
    clock = ManualClock()
    mine = compat.Histogram(clock=clock)  # built directly: pyformance's decaying sample of 1028
    theirs = pyformance.meters.Histogram(clock=clock)
    for _ in range(40):
        mine.add(177)
        theirs.add(177)
    clock.advance(120.0)
    for _ in range(10):
        mine.add(9999)
        theirs.add(9999)
    assert theirs.get_snapshot().get_median() == 177  # unweighted: old values dominate
    assert mine.get_snapshot().get_median() == 9999  # Dropwizard: new values weigh ~6x


def test_stream_default_is_stderr_as_in_pyformance() -> None:
    from graphmetrics.compat.pyformance.reporters import ConsoleReporter

    assert inspect.signature(ConsoleReporter).parameters["stream"].default is sys.stderr


DOCUMENTED_USE = '''
import io
import time

from pyformance import MetricsRegistry, count_calls, counter, time_calls, timer
from pyformance.reporters import ConsoleReporter


@count_calls
def test():
    pass


for i in range(10):
    test()
calls = counter("test_calls").get_count()


@time_calls
def slow():
    time.sleep(0.01)


slow()
slowest = timer("slow_calls").get_max()

registry = MetricsRegistry()
registry.timer("test.timer1").time().stop()
mean = registry.timer("test.timer1").get_mean()
stream = io.StringIO()
reporter = ConsoleReporter(registry=registry, reporting_interval=10, stream=stream)
reporter.report_now()
reporter.stop()
'''
"""pyformance's documented uses (its README's decorators, a ConsoleReporter, a registry's timer)."""


@pytest.mark.parametrize("package", ["pyformance", OURS])
def test_pyformances_documented_use_runs_after_a_mechanical_rename(package: str) -> None:
    code = DOCUMENTED_USE.replace("from pyformance", f"from {package}")
    assert (package == OURS) == (OURS in code)
    namespace: dict[str, Any] = {}
    exec(compile(code, f"<documented use on {package}>", "exec"), namespace)
    assert namespace["calls"] == 10
    assert 0.01 <= namespace["slowest"] < 1.0  # seconds, in both
    assert 0.0 <= namespace["mean"] < 1.0
    assert "test.timer1" in namespace["stream"].getvalue()
