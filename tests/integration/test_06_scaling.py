"""3. Scaling: new replicas appear as series within two intervals; removed replicas' final counts
(sent on SIGTERM) are in Whisper, so the total still adds up."""
from datetime import datetime

from stack import COUNT, REPORT_INTERVAL, per_instance, send, settled_total, wait_until


def test_scale_up_then_down_keeps_the_total(stack, checked):
    before_total = settled_total(stack)
    old = set(stack.instances())

    stack.run("up", "-d", "--wait", "--no-recreate", "--scale", f"helloworld={len(old) + 2}", "helloworld")
    containers = [stack.inspect(cid) for cid in stack.container_ids("helloworld")]
    started = {c["Config"]["Hostname"]: _epoch(c["State"]["StartedAt"]) for c in containers}
    new = set(started) - old
    assert len(new) == 2, f"expected 2 new replicas, got {new}"

    def first_points():
        seen = {i: pts[0][0] for i, pts in per_instance(stack, "hello_called.count", "-5min").items() if pts}
        return seen if new <= set(seen) else None

    first = wait_until(first_points, timeout=2 * REPORT_INTERVAL + 10, what=f"series of new replicas {sorted(new)}")
    # A point stamped T covers the interval ending at T: it exists within two intervals of the start.
    delays = {i: first[i] - started[i] for i in new}
    assert all(d <= 2 * REPORT_INTERVAL for d in delays.values()), f"first point after start (s): {delays}"

    # Requests right before the scale-down: the periodic reports cannot have carried all of them,
    # so the removed replicas' counts are only complete if their final report on SIGTERM arrived.
    sent = 61
    codes = send(stack, sent)
    assert codes == [200] * sent, f"answers through the lb: {sorted(set(codes))}"
    stack.run("up", "-d", "--wait", "--no-recreate", "--scale", f"helloworld={len(old) - 1}", "helloworld")
    removed = (old | new) - set(stack.instances())
    assert len(removed) == 3, f"expected 3 replicas removed, got {removed}"

    expected = before_total + sent
    wait_until(lambda: settled_total(stack, quiet_reports=1) == expected, timeout=6 * REPORT_INTERVAL,
               what=f"sum over every replica ever (incl. removed) to reach {expected}")
    final = {i: pts[-1][1] for i, pts in per_instance(stack, "hello_called.count").items() if i in removed}
    assert len(final) == 3 and all(v > 0 for v in final.values())
    checked(f"scaled {len(old)}->{len(old) + 2} (first points {max(delays.values()):.0f}s after start) ->{len(old) - 1}: "
            f"the 3 removed replicas' final counts are in Whisper; total = {expected:.0f} exactly")


def test_sum_series_with_keep_last_value_matches(stack):
    """The query a dashboard uses for a total over replicas that come and go."""
    total = settled_total(stack)
    series = stack.render(f"sumSeries(keepLastValue({COUNT}, 1000))", "-60min")
    values = [v for v, _ in series[0]["datapoints"] if v is not None]
    assert values and values[-1] == total


def _epoch(docker_time: str) -> float:
    """Docker's RFC 3339 timestamps carry nanoseconds, which fromisoformat does not take."""
    head, _, frac = docker_time.rstrip("Z").partition(".")
    return datetime.fromisoformat(head + "+00:00").timestamp() + float("0." + (frac or "0"))
