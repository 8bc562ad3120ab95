"""5. Every target of every provisioned dashboard returns data from the real graphite-web."""
from dashboard_targets import expand, iter_targets

from stack import ROOT


def test_every_dashboard_target_renders_data(stack, checked):
    instances = stack.instances()
    targets = iter_targets(ROOT / "grafana" / "dashboards")
    assert targets, "no dashboard targets found"
    empty = []
    rendered = 0
    for uid, title, raw in targets:
        for target in expand(raw, {"instance": instances}):
            rendered += 1
            series = stack.render(target, "-15min")
            if not any(v is not None for s in series for v, _ in s["datapoints"]):
                empty.append(f"{uid} / {title}: {target}")
    assert not empty, "targets with no data:\n" + "\n".join(empty)
    checked(f"{len(targets)} dashboard targets ({rendered} after expanding $instance) all return data")
