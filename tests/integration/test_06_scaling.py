"""3. Scaling: new replicas appear as series within two intervals; removed replicas' final counts
(sent on SIGTERM) are in Whisper, so the total still adds up."""
import time

from stack import COUNT, REPORT_INTERVAL, per_instance, send, settled_total, wait_until


def test_scale_up_then_down_keeps_the_total(stack, checked):
    before_total = settled_total(stack)
    old = set(stack.instances())

    stack.run("up", "-d", "--wait", "--no-recreate", "--scale", f"helloworld={len(old) + 2}", "helloworld")
    started = time.monotonic()
    new = set(stack.instances()) - old
    assert len(new) == 2, f"expected 2 new replicas, got {new}"
    wait_until(lambda: new <= set(per_instance(stack, "hello_called.count", "-5min")),
               timeout=2 * REPORT_INTERVAL + 10, what=f"series of the new replicas {sorted(new)}")
    appeared_after = time.monotonic() - started

    # Requests right before the scale-down: the periodic reports cannot have carried all of them,
    # so the removed replicas' counts are only complete if their final report on SIGTERM arrived.
    sent = 0
    wait_until(lambda: all(code == 200 for code in send(stack, 1)), timeout=20, what="lb answering")
    sent += 1
    sent += len([c for c in send(stack, 60) if c == 200])
    assert sent == 61
    stack.run("up", "-d", "--wait", "--no-recreate", "--scale", f"helloworld={len(old) - 1}", "helloworld")
    removed = (old | new) - set(stack.instances())
    assert len(removed) == 3, f"expected 3 replicas removed, got {removed}"

    expected = before_total + sent
    wait_until(lambda: settled_total(stack, quiet_reports=1) == expected, timeout=6 * REPORT_INTERVAL,
               what=f"sum over every replica ever (incl. removed) to reach {expected}")
    final = {i: pts[-1][1] for i, pts in per_instance(stack, "hello_called.count").items() if i in removed}
    assert len(final) == 3 and all(v > 0 for v in final.values())
    checked(f"scaled {len(old)}->{len(old) + 2} (new series after {appeared_after:.0f}s) ->{len(old) - 1}: "
            f"the 3 removed replicas' final counts are in Whisper; total = {expected:.0f} exactly")


def test_sum_series_with_keep_last_value_matches(stack):
    """The query a dashboard uses for a total over replicas that come and go."""
    total = settled_total(stack)
    series = stack.render(f"sumSeries(keepLastValue({COUNT}, 1000))", "-60min")
    values = [v for v, _ in series[0]["datapoints"] if v is not None]
    assert values and values[-1] == total
