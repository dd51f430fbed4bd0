"""The browser security headers of every answer the gateway gives, built once at import.

Three sets, by what the answer is:

- the web UI (`/` and its files): a strict Content-Security-Policy; the page loads only its own
  scripts and styles (no inline code, no eval), talks only to its own origin, cannot be framed,
  and forms post only to it;
- the API docs (`/api/docs`): the same; Swagger UI is started by a file (docs-init.js), not an
  inline script, sets its styles through the DOM (allowed) and draws icons from `data:` URLs;
- API answers (proxied or the gateway's own JSON errors): `default-src 'none'`, since a JSON
  answer or a file download never needs to load anything, and same-origin only as a resource.

Every answer also carries nosniff, no Referer, its own browsing-context group and no powerful
features. HSTS is sent by the TLS terminator in front (the k8s Ingress), where HTTPS is known.
"""

from collections.abc import Iterable

# Powerful features the portal never uses: no page of it, or framed into it, may ask for them.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
)

COMMON = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", PERMISSIONS_POLICY),
)


def csp(**directives: str) -> str:
    """A Content-Security-Policy value; directive names with `_` for `-`."""
    return "; ".join(f"{name.replace('_', '-')} {value}" for name, value in directives.items())


# The web UI: its ES modules, its stylesheet, fetch() to /api; its favicon is `data:,` (an empty
# icon, so the browser does not ask for /favicon.ico).
WEB_UI_CSP = csp(
    default_src="'self'",
    script_src="'self'",
    style_src="'self'",
    img_src="'self' data:",
    connect_src="'self'",
    object_src="'none'",
    base_uri="'none'",
    form_action="'self'",
    frame_ancestors="'none'",
)
# Swagger UI (vendored, started by docs-init.js) works under the same policy (its icons are
# data: URLs); checked in Chromium with the operations expanded.
DOCS_CSP = WEB_UI_CSP
API_CSP = csp(default_src="'none'", frame_ancestors="'none'", base_uri="'none'")

WEB_UI_HEADERS = (*COMMON, ("Content-Security-Policy", WEB_UI_CSP))
DOCS_HEADERS = (*COMMON, ("Content-Security-Policy", DOCS_CSP))
API_HEADERS = (
    *COMMON,
    ("Content-Security-Policy", API_CSP),
    ("Cross-Origin-Resource-Policy", "same-origin"),
)

# Headers a service may send that the gateway's own value replaces (a service's CSP is kept:
# two policies both apply, so the stricter one of a file download stays in force).
REPLACED_BY_EDGE = frozenset(
    name.lower() for name, _value in API_HEADERS if name != "Content-Security-Policy"
)


def headers_for_path(path: str) -> tuple[tuple[str, str], ...]:
    """The security headers of a page the gateway serves itself (Flask), by its path."""
    if path == "/api/docs" or path.startswith("/api/docs/"):
        return DOCS_HEADERS
    if path == "/api" or path.startswith("/api/"):
        return API_HEADERS
    return WEB_UI_HEADERS


def add_headers(response_headers, headers: Iterable[tuple[str, str]]) -> None:
    """Set `headers` on a werkzeug Headers object (replacing what is there)."""
    for name, value in headers:
        response_headers[name] = value
