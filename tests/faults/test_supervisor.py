"""`make run`'s supervisor: the Procfile's processes under supervisord, as `make run` starts them
(ports and VAR_DIR moved aside). A service killed with SIGKILL comes back by itself while the
others keep answering; Ctrl-C (SIGINT) still stops everything."""

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from service_kit.config import DEFAULT_PORTS, REPO_ROOT
from tests.support.processes import free_port

from .conftest import report, wait_until

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent


def ctl(env: dict, config: Path, *args: str) -> str:
    return subprocess.run(
        [str(BIN / "supervisorctl"), "-c", str(config), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
    ).stdout.strip()


def answers(url: str) -> bool:
    with contextlib.suppress(requests.RequestException):
        return requests.get(url, timeout=2).status_code == 200
    return False


@pytest.fixture
def portal(tmp_path):
    ports = {name: free_port() for name in DEFAULT_PORTS}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "JWT_PRIVATE_KEY_FILE")
    }
    env.update(
        VAR_DIR=str(tmp_path),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        CATALOG_URL=urls["catalog"],
        FAVORITES_URL=urls["favorites"],
        AUTH_URL=urls["auth"],
        ASSISTANT_URL=urls["assistant"],
        AUTH_JWKS_URL=f"{urls['auth']}/.well-known/jwks.json",
        LOG_LEVEL="WARNING",
    )
    for service in ("auth_service", "catalog_service", "favorites_service", "assistant_service"):
        subprocess.run(
            [sys.executable, "-m", service, "migrate"], env=env, cwd=REPO_ROOT, check=True
        )
    # The configuration `make run` writes, with this test's ports.
    text = subprocess.run(
        [sys.executable, "deploy/supervisord_conf.py", "--var-dir", str(tmp_path)],
        env=env,
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for name, port in DEFAULT_PORTS.items():
        text, count = re.subn(rf"127\.0\.0\.1:{port}\b", f"127.0.0.1:{ports[name]}", text)
        assert count == 1, name
    config = tmp_path / "supervisord.conf"
    config.write_text(text)
    log_path = tmp_path / "make-run.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(BIN / "supervisord"), "-c", str(config)],
            env=env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        for url in urls.values():
            wait_until(lambda url=url: answers(f"{url}/health/live"), 60)
        yield process, env, config, urls, log_path
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_a_killed_service_comes_back_while_the_others_keep_answering(portal):
    process, env, config, urls, log_path = portal
    gateway = urls["gateway"]
    # Routes of the services that stay up, through the gateway and directly.
    others = [
        f"{gateway}/health/live",
        f"{gateway}/api/auth/jwks.json",
        f"{urls['favorites']}/health/ready",
        f"{urls['auth']}/health/ready",
    ]
    counts = {"other_ok": 0, "other_failed": 0}
    stop = threading.Event()

    def load():
        while not stop.is_set():
            for url in others:
                try:
                    ok = requests.get(url, timeout=5).status_code == 200
                except requests.RequestException:
                    ok = False
                counts["other_ok" if ok else "other_failed"] += 1
            time.sleep(0.02)

    old_pid = int(ctl(env, config, "pid", "catalog"))
    assert answers(f"{gateway}/api/courses")
    loader = threading.Thread(target=load)
    loader.start()
    try:
        time.sleep(0.5)
        killed_at = time.monotonic()
        os.kill(old_pid, signal.SIGKILL)

        def catalog_listens_again():
            """A new catalog master has bound the port (the old workers may answer meanwhile)."""
            pid = ctl(env, config, "pid", "catalog")
            listening = f"Listening at: {urls['catalog']} ({pid})"
            return pid.isdigit() and int(pid) != old_pid and listening in log_path.read_text()

        wait_until(catalog_listens_again, 60, interval=0.2)
        wait_until(lambda: answers(f"{urls['catalog']}/health/ready"), 60)
        wait_until(lambda: answers(f"{gateway}/api/courses"), 60)
        recovered = time.monotonic() - killed_at
        time.sleep(0.5)
    finally:
        stop.set()
        loader.join()
    procfile = (REPO_ROOT / "Procfile").read_text().splitlines()
    programs = sum(1 for line in procfile if line.strip() and not line.startswith("#"))
    wait_until(lambda: ctl(env, config, "status").count(" RUNNING ") == programs, 30, interval=0.5)
    status = ctl(env, config, "status")
    report(
        "make run, catalog SIGKILLed",
        catalog_back_after_s=round(recovered, 2),
        other_requests=counts["other_ok"] + counts["other_failed"],
        other_failed=counts["other_failed"],
    )
    assert counts["other_failed"] == 0, counts
    assert counts["other_ok"] > 0
    assert int(ctl(env, config, "pid", "catalog")) != old_pid, status
    assert process.poll() is None  # supervisord itself never stopped

    # Ctrl-C: everything stops, nothing is left answering.
    process.send_signal(signal.SIGINT)
    process.wait(60)
    assert not any(answers(f"{url}/health/live") for url in urls.values())
    output = log_path.read_text(errors="replace")
    assert "exited: catalog (terminated by SIGKILL" in output
    assert "stopped: gateway" in output and "stopped: catalog-worker" in output
