"""7. Hardening: loopback-only ports, non-root containers, no default secrets."""
import json
import os
import subprocess

from stack import ROOT


def test_published_ports_are_loopback_only(stack, checked):
    seen = 0
    for service in ("lb", "graphite", "carbon", "helloworld"):
        for cid in stack.container_ids(service):
            bindings = stack.inspect(cid)["HostConfig"]["PortBindings"] or {}
            for port, hosts in bindings.items():
                for host in hosts:
                    seen += 1
                    assert host["HostIp"] == "127.0.0.1", f"{service} publishes {port} on {host['HostIp']!r}"
    assert seen >= 2, "expected lb and graphite to publish ports"
    checked(f"{seen} published ports, all bound to 127.0.0.1")


def test_containers_do_not_run_as_root(stack, checked):
    for service in ("lb", "graphite", "carbon", "helloworld"):
        for cid in stack.container_ids(service):
            uid = stack.exec_in(cid, "id", "-u").strip()
            assert uid != "0", f"{service} runs as root"
    checked("helloworld, lb, carbon and graphite-web run as non-root users")


def test_graphite_secret_key_is_not_a_default(stack, checked):
    key = stack.exec("graphite", "python3", "-c",
                     "import local_settings as s; print(s.SECRET_KEY)").strip()
    assert key not in ("", "UNSAFE_DEFAULT") and len(key) >= 32
    assert key == stack.env["GRAPHITE_SECRET_KEY"]
    checked("graphite-web's SECRET_KEY comes from the environment, not the packaged default")


def test_grafana_has_no_default_admin_password(stack, checked):
    # --env-file /dev/null: a developer's .env must not supply the password this test removes.
    cmd = ["docker", "compose", "-f", str(ROOT / "compose.yaml"), "--env-file", "/dev/null",
           "--profile", "grafana", "config", "--format", "json"]
    env = {k: v for k, v in {**os.environ, **stack.env}.items() if k != "GRAFANA_ADMIN_PASSWORD"}
    missing = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert missing.returncode != 0 and "GRAFANA_ADMIN_PASSWORD" in missing.stderr, missing.stderr
    ok = subprocess.run(cmd, env={**env, "GRAFANA_ADMIN_PASSWORD": "from-the-environment"},
                        capture_output=True, text=True, check=True)
    grafana = json.loads(ok.stdout)["services"]["grafana"]
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == "from-the-environment"
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert grafana["environment"]["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert grafana["user"] == "472"
    checked("Grafana refuses to start without GRAFANA_ADMIN_PASSWORD; anonymous users are read-only viewers")
