"""Service-to-service HTTP: one pooled session per target, explicit timeouts, no redirects.

Only idempotent GETs are retried (twice at most, with backoff); a failure reaches the caller as
`UpstreamUnavailable`, so services decide how to degrade instead of leaking a 500.
"""

from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .errors import UpstreamUnavailable
from .request_log import REQUEST_ID_HEADER, current_request_id


class ServiceClient:
    def __init__(
        self,
        base_url: str,
        *,
        name: str,
        connect_timeout: float = 1.0,
        read_timeout: float = 2.0,
        retries: int = 2,
        backoff: float = 0.1,
        pool_size: int = 16,
    ):
        self.base_url = base_url.rstrip("/")
        self.name = name
        self.timeout = (connect_timeout, read_timeout)
        retry = Retry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            backoff_factor=backoff,
            status_forcelist=(502, 503, 504),
            allowed_methods=frozenset({"GET"}),
            raise_on_status=False,
            respect_retry_after_header=False,
        )
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=retry)
        self.session = requests.Session()
        self.session.trust_env = False  # never route internal calls through an env proxy
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def request(self, method: str, path: str, *, headers: dict | None = None, **kwargs):
        headers = dict(headers or {})
        request_id = _request_id_or_none()
        if request_id:
            headers.setdefault(REQUEST_ID_HEADER, request_id)
        try:
            return self.session.request(
                method,
                self.base_url + path,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
                **kwargs,
            )
        except requests.RequestException as error:
            raise UpstreamUnavailable(f"The {self.name} service is unavailable.") from error

    def get_json(self, path: str, *, expect: type = object, **kwargs) -> Any:
        """GET a JSON document; anything but a 200 with a body of type `expect` is a failure."""
        return self.json_of(self.request("GET", path, **kwargs), expect=expect)

    def json_of(self, response: requests.Response, *, expect: type = object) -> Any:
        """The JSON document of an answer the caller has already checked for the statuses it
        handles itself (404, 304, ...): anything but a 200 with a body of type `expect` is
        `UpstreamUnavailable`."""
        if response.status_code != 200:
            raise UpstreamUnavailable(
                f"The {self.name} service answered {response.status_code}.",
            )
        try:
            body = response.json()
        except ValueError as error:
            raise UpstreamUnavailable(f"The {self.name} service sent invalid JSON.") from error
        if not isinstance(body, expect):
            raise UpstreamUnavailable(f"The {self.name} service sent an unexpected document.")
        return body


def _request_id_or_none() -> str | None:
    try:
        return current_request_id()
    except RuntimeError:  # outside a request: CLI commands, background work
        return None
