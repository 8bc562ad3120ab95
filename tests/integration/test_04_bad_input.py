"""6. Bad input end to end: 400s (never 5xx) through the load balancer, counted, no replica restarts."""
import json

from stack import REPORT_INTERVAL, settled_total, wait_until

BAD = ["/?world_size=", "/?world_size", "/?world_size=abc", "/?world_size=1.5", "/?world_size=-3",
       "/?world_size=" + "9" * 40, "/?world_size=1&world_size=2", "/?world_size=%ff%fe",
       "/?world_size=1e3", "/?world_size=0x10", "/?" + "a" * 9000, "/?world_size=%00"]


def test_malformed_requests_get_400_and_are_counted(stack, checked):
    before = settled_total(stack, "bad_requests.count")
    for path in BAD:
        status, body = stack.get(path)
        assert status == 400, f"{path[:60]!r} -> {status} {body[:200]!r}"
        reason = json.loads(body)
        assert reason.get("error"), f"{path[:60]!r}: the 400 must name the problem: {reason}"
    status, _ = stack.get("/no/such/path")
    assert status == 404
    wait_until(lambda: settled_total(stack, "bad_requests.count", quiet_reports=1) == before + len(BAD),
               timeout=6 * REPORT_INTERVAL, what="bad_requests to count every malformed request")
    for cid in stack.container_ids("helloworld"):
        state = stack.inspect(cid)
        assert state["RestartCount"] == 0 and state["State"]["Running"], f"replica {cid[:12]} restarted"
    checked(f"{len(BAD)} malformed requests -> 400 with a reason, all in bad_requests; no replica restarted")
