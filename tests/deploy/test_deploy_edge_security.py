"""The edge as deployed: HTTPS only (with HSTS from the Ingress) in production, and /metrics
readable from the networks that scrape it and no others."""

import ipaddress

import pytest

from service_kit.metrics import parse_networks


def _ingress(documents: list[dict]) -> dict:
    (ingress,) = [doc for doc in documents if doc["kind"] == "Ingress"]
    return ingress


def _config_map(documents: list[dict]) -> dict:
    (config,) = [
        doc
        for doc in documents
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].startswith("portal-config")
    ]
    return config["data"]


def test_production_is_https_only(overlays):
    ingress = _ingress(overlays["prod"])
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/force-ssl-redirect"] == "true"
    (tls,) = ingress["spec"]["tls"]
    assert tls["hosts"] == [ingress["spec"]["rules"][0]["host"]]
    # HSTS is the controller's (ingress-nginx sends it on TLS hosts by default); a snippet
    # annotation would be refused by controllers that disallow snippets.
    assert not any("snippet" in name for name in annotations)


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_prometheus_in_the_pod_network_may_scrape(overlays, overlay):
    networks = parse_networks(_config_map(overlays[overlay])["METRICS_ALLOWED_NETWORKS"])
    assert any(ipaddress.ip_address("10.244.0.17") in network for network in networks)


def test_compose_allows_only_loopback(compose):
    for name, service in compose["services"].items():
        value = (service.get("environment") or {}).get("METRICS_ALLOWED_NETWORKS")
        if value is None:
            continue
        for network in parse_networks(value):
            assert network.is_loopback, (name, network)
