"""2. Exact accounting across replicas: K requests through the load balancer add exactly K."""
from stack import COUNT, REPORT_INTERVAL, send, settled_total, wait_until

K = 137


def value_at_common_slot(stack, target, instances_target=COUNT):
    """(timestamp, value of `target`) at the newest slot where every replica has reported."""
    per = {s["target"]: {t: v for v, t in s["datapoints"] if v is not None}
           for s in stack.render(instances_target, "-10min")}
    common = set.intersection(*(set(points) for points in per.values())) if per else set()
    if not common:
        return None
    slot = max(common)
    for series in stack.render(target, "-10min"):
        for v, t in series["datapoints"]:
            if t == slot:
                return slot, v
    return None


def test_k_requests_add_exactly_k_across_replicas(stack, checked):
    before = settled_total(stack)
    assert all(code == 200 for code in send(stack, K)), "every request through the lb must succeed"
    expected = before + K

    wait_until(lambda: settled_total(stack, quiet_reports=1) == expected, timeout=6 * REPORT_INTERVAL,
               what=f"sum of replica counts to reach {expected}")

    def graphite_sum():
        hit = value_at_common_slot(stack, f"sumSeries({COUNT})")
        return hit if hit and hit[1] == expected else None

    def aggregator_sum():
        hit = value_at_common_slot(stack, "all.helloworld.hello_called.count")
        return hit if hit and hit[1] == expected else None

    slot, _ = wait_until(graphite_sum, timeout=4 * REPORT_INTERVAL, what="sumSeries(...) == before + K")
    agg_slot, _ = wait_until(aggregator_sum, timeout=6 * REPORT_INTERVAL,
                             what="carbon-aggregator's all.helloworld.hello_called.count == before + K")
    # Nothing more arrives later: one more report interval and the totals are unchanged.
    wait_until(lambda: (value_at_common_slot(stack, f"sumSeries({COUNT})") or (0,))[0] > slot,
               timeout=3 * REPORT_INTERVAL, what="the next report")
    assert value_at_common_slot(stack, f"sumSeries({COUNT})")[1] == expected
    checked(f"{K} requests through the lb: sumSeries(helloworld.*.hello_called.count) and the aggregator's "
            f"all.helloworld.hello_called.count both rose by exactly {K} (to {expected:.0f})")
