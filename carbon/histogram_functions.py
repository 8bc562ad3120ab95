"""graphite-web function plugin: fleet percentiles from a histogram's bucket series.

A replica exports each non-empty bucket of a histogram as ``<histogram>.buckets.<bound>``: the number
of values up to ``<bound>`` (its upper end, ``_`` for the decimal point) in that bucket, counted since
the replica started. Percentiles of percentiles are not percentiles; counts add up. So these
functions take every bucket series of one histogram (all its replicas), turn each cumulative count
into the count per step, add the replicas per bound and read the n-th percentile of what was
counted in each step, or in each window of steps when graphite-web would otherwise average points
away (maxDataPoints). See docs/reporting.md for the error bound and docs/capacity.md for the cost.

Loaded by graphite-web 1.1 through ``FUNCTION_PLUGINS`` (carbon/local_settings.py); runs on the
Python and graphite-web of the image, so it imports nothing of ours.
"""
import math

from graphite.errors import InputParameterError
from graphite.functions.params import Param, ParamTypes
from graphite.render.datalib import TimeSeries

BUCKETS_NODE = "buckets"


def _parse(series):
    """``(histogram nodes, tags, bound)`` of a bucket series; InputParameterError for any other."""
    path, _, tags = series.name.partition(";")
    nodes = path.split(".")
    bound = None
    if len(nodes) >= 3 and nodes[-2] == BUCKETS_NODE:
        try:
            bound = float(nodes[-1].replace("_", "."))
        except ValueError:
            pass
    if bound is None or not math.isfinite(bound):
        raise InputParameterError(
            "not a bucket series: %r (expected <histogram>.buckets.<upper bound>, e.g. "
            "helloworld.*.latency.buckets.*)" % series.name)
    return tuple(nodes[:-2]), tuple(sorted(t for t in tags.split(";") if t)), bound


def _histogram_name(seriesList):
    """The one histogram the series belong to (the node its replicas differ in as ``*``), and each
    series' replica (its histogram path) and bound.

    Replicas of a histogram share its path except for one node (the instance); series whose paths
    differ in more than one node, or in length or tags, are of different histograms.
    """
    parsed = [_parse(series) for series in seriesList]
    shapes = {(len(nodes), tags) for nodes, tags, _ in parsed}
    differing = set()
    if len(shapes) == 1:
        first = parsed[0][0]
        differing = {i for nodes, _, _ in parsed for i, node in enumerate(nodes) if node != first[i]}
    if len(shapes) > 1 or len(differing) > 1:
        names = sorted({".".join(nodes) + "".join(";" + t for t in tags) for nodes, tags, _ in parsed})
        raise InputParameterError(
            "bucket series of more than one histogram (%s): a fleet percentile adds up the replicas "
            "of one histogram, whose paths differ in one node only" % ", ".join(names[:4]))
    nodes, tags, _ = parsed[0]
    name = ".".join("*" if i in differing else node for i, node in enumerate(nodes))
    return name + "".join(";" + t for t in tags), [(nodes, bound) for nodes, _, bound in parsed]


def _grid(seriesList):
    """``(start, step, rows)``: every series' values on one grid, the least common multiple of their
    steps. Series of one fetch share it already; a finer one keeps the highest count of each coarser
    step, as a Whisper rollup with ``max`` does."""
    step = 1
    for series in seriesList:
        step = step * series.step // math.gcd(step, series.step)
    start = min(series.start for series in seriesList)
    start -= start % step
    length = max(1, math.ceil((max(series.end for series in seriesList) - start) / step))
    rows = []
    for series in seriesList:
        if series.start == start and series.step == step and len(series) == length:
            rows.append([None if v != v else v for v in series])  # NaN (never from Whisper) as null
            continue
        row = [None] * length
        for i, value in enumerate(series):
            j = (series.start + i * series.step - start) // step
            if value is not None and value == value and (row[j] is None or value > row[j]):
                row[j] = value
        rows.append(row)
    return start, step, rows


def _replica_events(rows):
    """``(reported, restarts)`` of one replica, from all its bucket rows: per step, whether it reported
    any bucket, and whether it had restarted (counted again from 0): some bucket's count dropped, or a
    bucket it had exported vanished (a bucket's count never decreases otherwise)."""
    reported = [any(values) for values in zip(*[[v is not None for v in row] for row in rows])]
    restarts = [False] * len(reported)
    for row in rows:
        last = None
        for i, value in enumerate(row):
            if value is None:
                if last is not None and reported[i]:
                    if last:
                        restarts[i] = True
                    last = 0
                continue
            if last is not None and value < last:
                restarts[i] = True
            last = value
    return reported, restarts


def _increments(row, reported, restarts):
    """Counts per step from a bucket's cumulative counts, given its replica's reports and restarts.

    A bucket missing from a report was empty (a bucket is exported once it has a value, so it starts
    from 0), and so was one whose series starts after the range does (a new bucket, histogram or
    replica). A step without any report is a gap: the next value's increase covers it. At a restart
    the value is what was counted since. A value at the range's first step is the baseline: what it
    counted before is outside the range.
    """
    out = [None] * len(row)
    last = None if row and row[0] is not None else 0
    for i, value in enumerate(row):
        if value is None:
            if reported[i]:
                last = 0
            continue
        if restarts[i]:
            out[i] = value
        elif last is not None:
            out[i] = value - last if value >= last else value
        last = value
    return out


def _windows(start, step, length, requestContext):
    """``(start, width, count)`` of the output: the grid's steps, or windows of several steps when
    there are more steps than maxDataPoints (graphite-web would average their percentiles)."""
    limit = requestContext.get("maxDataPoints")
    if not limit or limit >= length:
        return start, step, length
    if limit == 1:
        return start, step * length, 1
    # Windows on multiples of their width (no jitter on refresh); one spare for the alignment.
    width = step * math.ceil(length / (limit - 1))
    first = start - start % width
    return first, width, math.ceil((start + length * step - first) / width)


def _sum_by_bound(seriesList, replicas, requestContext):
    """``(start, width, count, [(bound, counts per window)])``: all replicas added per bound."""
    start, step, rows = _grid(seriesList)
    out_start, width, count = _windows(start, step, len(rows[0]), requestContext)
    offset, per_window = (start - out_start) // step, width // step
    by_replica = {}
    for row, (replica, _) in zip(rows, replicas):
        by_replica.setdefault(replica, []).append(row)
    events = {replica: _replica_events(group) for replica, group in by_replica.items()}
    sums = {}
    for row, (replica, bound) in zip(rows, replicas):
        total = sums.get(bound)
        if total is None:
            total = sums[bound] = [0] * count
        for i, increment in enumerate(_increments(row, *events[replica])):
            if increment:
                total[(offset + i) // per_window] += increment
    return out_start, width, count, sorted(sums.items())


def _percentiles(rows, ns, count):
    """For each n, per window: the upper bound of the bucket holding the value of nearest rank
    ceil(n/100 * total), i.e. the smallest bound with at least n% of the window's values at or below
    it; None for a window without values."""
    out = {n: [None] * count for n in ns}
    for w in range(count):
        total = sum(row[w] for _, row in rows)
        if total <= 0:
            continue
        wanted = sorted((max(1, math.ceil(n / 100.0 * total - 1e-9)), n) for n in ns)
        cumulative = 0
        k = 0
        for bound, row in rows:
            cumulative += row[w]
            while k < len(wanted) and cumulative >= wanted[k][0]:
                out[wanted[k][1]][w] = bound
                k += 1
            if k == len(wanted):
                break
    return out


def _checked(n):
    if isinstance(n, bool) or not isinstance(n, (int, float)) or not 0 <= n <= 100:
        raise InputParameterError("percentile must be a number from 0 to 100, not %r" % (n,))
    return n


def _histogram_percentiles(requestContext, seriesList, ns):
    ns = [_checked(n) for n in ns]
    if not ns:
        raise InputParameterError("histogramPercentiles needs at least one percentile")
    if not seriesList:
        return []  # nothing matched (yet): no data, as with sumSeries
    histogram, replicas = _histogram_name(seriesList)
    start, step, count, sums = _sum_by_bound(seriesList, replicas, requestContext)
    values = _percentiles(sums, ns, count)
    result = []
    for n in dict.fromkeys(ns):
        name = "histogramPercentile(%s,%g)" % (histogram, n)
        tags = {"name": histogram, "percentile": "%g" % n, "aggregatedBy": "histogramPercentile"}
        result.append(TimeSeries(name, start, start + count * step, step, values[n], tags=tags,
                                 xFilesFactor=requestContext.get("xFilesFactor")))
    return result


def histogramPercentile(requestContext, seriesList, n):
    """The n-th percentile (0-100) of one histogram over all its replicas, from its bucket series.

    Give it every bucket series of the histogram: replicas may differ in one node of the path.
    Cumulative counts become counts per step (a replica's restart, where its counts start again at
    0, shows as a drop or a vanished bucket in any of its buckets), replicas are added per bucket,
    and each point is the upper bound of the bucket that holds the n-th percentile of the values
    counted in that step (in wider windows when the request's maxDataPoints is smaller than the
    number of steps). The result is never below the exact percentile and at most one bucket width
    above it. Counts before the range's first step are its baseline, so that step has values only
    from series that start within the range.

    Example:

    .. code-block:: none

      &target=histogramPercentile(helloworld.*.latency.buckets.*, 99)
    """
    return _histogram_percentiles(requestContext, seriesList, [n])


histogramPercentile.group = "Calculate"
histogramPercentile.params = [
    Param("seriesList", ParamTypes.seriesList, required=True),
    Param("n", ParamTypes.float, required=True),
]


def histogramPercentiles(requestContext, seriesList, *percentiles):
    """Several percentiles of one histogram at once: one series per percentile, named
    ``histogramPercentile(<histogram>,<n>)`` and tagged ``percentile=<n>`` (so
    ``aliasByTags(..., 'percentile')`` labels them). Same rules as histogramPercentile.

    Example:

    .. code-block:: none

      &target=histogramPercentiles(helloworld.*.latency.buckets.*, 50, 95, 99)
    """
    return _histogram_percentiles(requestContext, seriesList, list(percentiles))


histogramPercentiles.group = "Calculate"
histogramPercentiles.params = [
    Param("seriesList", ParamTypes.seriesList, required=True),
    Param("percentiles", ParamTypes.float, required=True, multiple=True),
]

SeriesFunctions = {
    "histogramPercentile": histogramPercentile,
    "histogramPercentiles": histogramPercentiles,
}
