"""7. Hardening: loopback-only ports, non-root containers, no default secrets, bounded HTTP edges."""
import json
import os
import select
import socket
import subprocess
import time

from stack import REPORT_INTERVAL, ROOT, settled_total, wait_until


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


def _lb_address(stack) -> tuple[str, int]:
    return "127.0.0.1", int(stack.lb_url.rsplit(":", 1)[1])


def _raw(stack, data: bytes, timeout: float = 10) -> bytes:
    with socket.create_connection(_lb_address(stack), timeout=timeout) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def test_a_trickled_request_head_gets_408_from_the_load_balancer(stack, checked):
    """One byte every 3 s never lets `timeout client` expire; `timeout http-request` bounds the whole head."""
    with socket.create_connection(_lb_address(stack), timeout=5) as attacker:
        started = time.monotonic()
        for byte in b"GET / HT":  # 8 bytes: 24 s, well past the 10 s bound
            readable, _, _ = select.select([attacker], [], [], 3)
            if readable:
                break
            assert stack.get("/")[0] == 200, "a normal client must be served meanwhile"
            attacker.sendall(bytes([byte]))
        answer = attacker.recv(65536)
        elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    checked(f"a request head trickled a byte every 3 s through the lb: 408 after {elapsed:.0f} s, others served")


def test_the_load_balancer_and_the_service_refuse_bad_requests_with_a_reason(stack, checked):
    before = settled_total(stack, "bad_requests.count")
    big = _raw(stack, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\nConnection: close\r\n\r\n")
    assert big.startswith(b"HTTP/1.1 413") and b'"error"' in big, big[:300]
    for path in (b"/metrics", b"/healthz"):
        refused = _raw(stack, b"POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path)
        assert refused.startswith(b"HTTP/1.1 405") and b"allow: get, head" in refused.lower(), refused[:300]
    # No world_size here: a value recorded in some replica would skew test_02's exact check of one replica's
    # histogram (test_edge.py checks absolute-form queries in the service itself).
    absolute = _raw(stack, b"GET http://x/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert absolute.startswith(b"HTTP/1.1 200") and b"HelloWorld" in absolute, absolute[:300]
    chunked = _raw(stack, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                   + (b"4000\r\n" + b"y" * 0x4000 + b"\r\n") * 5 + b"0\r\n\r\n")
    assert chunked.startswith(b"HTTP/1.1 413") and b"larger than" in chunked, chunked[:300]
    assert stack.get("/")[0] == 200
    # The service counts its three refusals (haproxy's 413 never reached it); settled here, so that the
    # accounting tests after this one start from reported totals.
    wait_until(lambda: settled_total(stack, "bad_requests.count", quiet_reports=1) == before + 3,
               timeout=6 * REPORT_INTERVAL, what="bad_requests to count the service's 405, 405 and 413")
    checked("through the lb: a 100 MB declared body -> 413 (haproxy), a 80 KiB chunked one -> 413 (service), "
            "POST /metrics and /healthz -> 405 with Allow, an absolute-form target -> 200; the service's three "
            "refusals counted in bad_requests")
