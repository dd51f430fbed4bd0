"""CPU per request in the benchmark: read from /proc for a process tree, divided by requests,
and the gateway's CPU budget worked out from the two paths' figures."""

import subprocess
import sys
import time
from collections import Counter

import pytest

from bench import cpu, run

BURN = "import time\nend = time.process_time() + {seconds}\nwhile time.process_time() < end: pass\n"


def test_a_process_trees_cpu_includes_its_childrens():
    parent = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys; subprocess.run([sys.executable, '-c', "
         f"{BURN.format(seconds=0.6)!r}]); import time; time.sleep(5)"]
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        spent = 0.0
        while time.monotonic() < deadline and spent < 0.5:
            spent = cpu.tree_cpu_seconds(parent.pid)
            time.sleep(0.05)
        # The parent itself only starts Python and waits: most of it is the child's loop.
        assert spent >= 0.5
    finally:
        parent.kill()
        parent.wait()


def test_a_process_gone_counts_nothing():
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    assert cpu.tree_cpu_seconds(finished.pid) == 0.0


def test_the_meter_counts_what_each_named_process_and_wrk_spent():
    busy = subprocess.Popen([sys.executable, "-c", BURN.format(seconds=30)])
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        meter = cpu.CpuMeter({"busy": busy.pid, "idle": idle.pid})
        time.sleep(0.3)  # both past their start-up
        before = meter.read()
        subprocess.run([sys.executable, "-c", BURN.format(seconds=0.3)], check=True)  # "wrk"
        time.sleep(0.3)
        spent = cpu.CpuMeter.spent(before, meter.read())
    finally:
        for process in (busy, idle):
            process.kill()
            process.wait()
    assert spent["busy"] >= 0.3  # it burned through both the child's run and the pause
    assert spent["idle"] < 0.05
    assert 0.25 <= spent[cpu.WRK] < 1.0


def test_cpu_per_request_leaves_out_idle_processes():
    figures = cpu.per_request_ms(Counter(gateway=0.8, catalog=1.3, auth=0.00001), 1000)
    assert figures == {"catalog": 1.3, "gateway": 0.8}
    assert cpu.per_request_ms(Counter(gateway=1.0), 0) == {}


def with_cpu(row: run.Row, **ms: float) -> run.Row:
    row.cpu_ms_per_request = ms
    return row


def test_the_gateways_budget_is_the_nginx_paths_cpu_over_the_target_less_the_rest_of_its_path():
    rows = [
        with_cpu(run.Row("course", "gateway", 16, 800, 10, 30, 0, 4000), gateway=0.7, catalog=1.4,
                 wrk=0.1),
        with_cpu(run.Row("course", "nginx", 16, 1000, 8, 25, 0, 5000), nginx=0.1, catalog=1.3,
                 wrk=0.1),
        with_cpu(run.Row("gunicorn_floor", "direct", 16, 5000, 3, 9, 0, 20000),
                 gunicorn_floor=0.3, wrk=0.1),
    ]  # fmt: skip

    summary = run.summarize(rows)

    assert summary["gateway_cpu_ms_per_request"] == 0.7
    assert summary["nginx_cpu_ms_per_request"] == 0.1
    assert summary["gunicorn_floor_cpu_ms_per_request"] == 0.3
    # (0.1 + 1.3 + 0.1) / 0.85 - (1.4 + 0.1) = 0.265
    assert summary["gateway_cpu_budget_ms_per_request"] == pytest.approx(0.265, abs=0.001)
    assert summary["cores_busy_course_via_gateway"] == pytest.approx(1.76)
    assert summary["cores_busy_course_via_nginx"] == pytest.approx(1.5)
