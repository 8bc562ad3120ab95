"""2. Exact accounting across replicas: K requests through the load balancer add exactly K."""
from stack import COUNT, REPORT_INTERVAL, per_instance, send, settled_total, wait_until

COUNT_FIELD = "hello_called.count"  # COUNT is helloworld.*.<this>

K = 137


def complete_slots(stack) -> dict[int, float]:
    """slot timestamp -> sum over replicas, for every slot in which every replica has a point."""
    per = [dict(points) for points in per_instance(stack, COUNT_FIELD, "-10min").values()]
    common = set.intersection(*(set(points) for points in per)) if per else set()
    return {slot: sum(points[slot] for points in per) for slot in sorted(common)}


def values_at(stack, target: str, slots) -> dict[int, float | None]:
    series = stack.render(target, "-10min")
    assert len(series) == 1, f"{target} returned {len(series)} series"
    by_slot = {t: v for v, t in series[0]["datapoints"]}
    return {slot: by_slot.get(slot) for slot in slots}


def test_k_requests_add_exactly_k_across_replicas(stack, checked):
    before = settled_total(stack)
    assert all(code == 200 for code in send(stack, K)), "every request through the lb must succeed"
    expected = before + K

    def settled_slots():
        """Slots that carry all K requests in every replica, old enough (two intervals) for the
        aggregator's once-per-interval computation to have run on them."""
        slots = complete_slots(stack)
        if not slots:
            return None
        newest = max(slots)
        done = [s for s, total in slots.items() if total == expected and s <= newest - 2 * REPORT_INTERVAL]
        return done or None

    try:
        slots = wait_until(settled_slots, timeout=8 * REPORT_INTERVAL, what=f"replica counts to sum to {expected}")
    except AssertionError as exc:  # say what the slots held instead
        raise AssertionError(f"{exc}; before={before}, newest complete slots: "
                             f"{list(complete_slots(stack).items())[-6:]}") from None
    graphite = values_at(stack, f"sumSeries({COUNT})", slots)
    aggregator = values_at(stack, "all.helloworld.hello_called.count", slots)
    assert set(graphite.values()) == {expected}, f"sumSeries per slot: {graphite}, expected {expected}"
    assert set(aggregator.values()) == {expected}, f"aggregator per slot: {aggregator}, expected {expected}"
    assert max(complete_slots(stack).values()) == expected, "the total kept growing: a request counted twice"
    checked(f"{K} requests through the lb: sumSeries(helloworld.*.hello_called.count) and the aggregator's "
            f"all.helloworld.hello_called.count both rose by exactly {K} (to {expected:.0f}) in "
            f"{len(slots)} report slot(s)")
