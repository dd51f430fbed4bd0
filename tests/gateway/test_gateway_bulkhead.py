"""The per-service bulkhead: a stuck service is refused at once, a busy one queues its burst."""

import threading
import time

import pytest

from gateway.errors import EdgeError
from gateway.upstream import Bulkhead


def test_a_stuck_service_past_its_share_is_refused_at_once():
    bulkhead = Bulkhead("catalog", 2, progress_window=0.2)
    bulkhead.enter()
    bulkhead.enter()
    time.sleep(0.25)  # nothing handed back: stuck
    started = time.monotonic()
    with pytest.raises(EdgeError) as refused:
        bulkhead.enter()
    assert time.monotonic() - started < 0.05
    assert refused.value.status == 503 and refused.value.retry_after == 1


def test_a_busy_service_burst_waits_for_its_turn():
    bulkhead = Bulkhead("favorites", 2, progress_window=0.2)
    outcomes = []

    def request():
        try:
            bulkhead.enter()
        except EdgeError:
            outcomes.append("refused")
            return
        time.sleep(0.05)  # a slow but healthy service
        bulkhead.leave()
        outcomes.append("served")

    threads = [threading.Thread(target=request) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert outcomes == ["served"] * 12


def test_waiting_is_bounded_by_max_wait():
    bulkhead = Bulkhead("search", 1, max_wait=0.1, progress_window=10)
    bulkhead.enter()
    started = time.monotonic()
    with pytest.raises(EdgeError):
        bulkhead.enter()
    assert 0.09 < time.monotonic() - started < 1
