"""Prometheus metrics: request counts and latencies per route, served at `/metrics`.

Requests are labelled by the route *template* (`/api/courses/<int:course_id>`), never the raw
path, so ids, junk URLs and scanners cannot grow the number of series; a request that matched no
route is labelled `<unmatched>`, an unusual method `OTHER`.

gunicorn runs several worker processes and a scrape reaches only one of them. With
PROMETHEUS_MULTIPROC_DIR set, every worker writes its samples to files in that directory and
`/metrics` adds up all of them (prometheus_client's multiprocess mode); deploy/gunicorn.conf.py
empties the directory when gunicorn starts and retires dead workers. Without it each process
reports only its own requests, which is right for a single process (tests, `flask run`).

Who may read `/metrics` is decided by the connecting address (REMOTE_ADDR, which no client can
choose) against METRICS_ALLOWED_NETWORKS (default: loopback; in Kubernetes the pod network,
where Prometheus scrapes each pod directly). The ingress controller sits in that network too, so
a request it relayed (any of X-Forwarded-For, Forwarded, X-Real-IP, which it always sets) is
refused as well: the public never reads the metrics through the ingress. Everyone else gets the
same 404 as for any unknown path.
"""

import ipaddress
import os
import time
from collections.abc import Iterable
from pathlib import Path

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from .errors import error_response

METRICS_PATH = "/metrics"
UNMATCHED_ROUTE = "<unmatched>"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# From a cached catalog read (a few ms) to a slow upstream hitting the gateway's read timeout.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DEFAULT_ALLOWED_NETWORKS = "127.0.0.0/8,::1/128"
# Set by a reverse proxy for the client behind it: such a request is the public's.
RELAYED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")

REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by route template and status.",
    ["service", "method", "route", "status"],
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time from the start of a request to its response, by route template.",
    ["service", "method", "route"],
    buckets=LATENCY_BUCKETS,
)
IN_PROGRESS = Gauge(
    "http_requests_in_progress",
    "Requests being handled right now.",
    ["service"],
    multiprocess_mode="livesum",
)


def observe_request(service: str, method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request; for code paths that bypass Flask (the gateway's proxy),
    with `route` a bounded label such as the route table's prefix."""
    method = method if method in KNOWN_METHODS else "OTHER"
    REQUESTS.labels(service, method, route, str(status)).inc()
    LATENCY.labels(service, method, route).observe(seconds)


def init_metrics(app: Flask) -> None:
    """Measure every request of `app` and serve the samples at /metrics (once per app)."""
    if "metrics" in app.extensions:
        return
    app.extensions["metrics"] = METRICS_PATH
    service = app.config.get("SERVICE_NAME") or app.name
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
    in_progress = IN_PROGRESS.labels(service)

    @app.before_request
    def _start_timer():
        g.metrics_started = time.perf_counter()
        g.metrics_recorded = False
        in_progress.inc()

    @app.after_request
    def _record(response):
        started = g.get("metrics_started")
        if started is not None:
            observe_request(
                service,
                request.method,
                _route_label(),
                response.status_code,
                time.perf_counter() - started,
            )
            g.metrics_recorded = True
        return response

    @app.teardown_request
    def _finish(_exc):
        if g.get("metrics_started") is None:
            return
        in_progress.dec()
        if not g.get("metrics_recorded"):  # no response was made: the client saw a 500
            observe_request(
                service,
                request.method,
                _route_label(),
                500,
                time.perf_counter() - g.metrics_started,
            )

    allowed = parse_networks(
        app.config.get("METRICS_ALLOWED_NETWORKS")
        or os.environ.get("METRICS_ALLOWED_NETWORKS")
        or DEFAULT_ALLOWED_NETWORKS
    )

    def metrics_view():
        if not may_read_metrics(request.environ, allowed):
            return error_response(404)
        return Response(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)

    app.add_url_rule(METRICS_PATH, "metrics", metrics_view, methods=["GET"])


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: str) -> tuple[Network, ...]:
    """`10.0.0.0/8, ::1` -> networks; a wrong entry stops the start-up, clearly."""
    networks = []
    for entry in value.split(","):
        if entry.strip():
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError as error:
                raise ValueError(f"METRICS_ALLOWED_NETWORKS: {entry.strip()!r} {error}") from None
    return tuple(networks)


def may_read_metrics(environ: dict, allowed: Iterable[Network]) -> bool:
    """A direct connection from an allowed address, not relayed by a proxy."""
    if any(environ.get(header) for header in RELAYED_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(environ.get("REMOTE_ADDR") or "")
    except ValueError:
        return False  # a unix socket or nothing: not an address we allow
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in allowed)


def _route_label() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED_ROUTE


def _registry() -> CollectorRegistry:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    # A fresh registry per scrape: the collector reads the current files of every worker.
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry
