"""The one error of the forwarding path: a request the gateway answers itself, as JSON."""


class EdgeError(Exception):
    """Refused at the edge (400, 401, 404, 413, 503) or failed upstream (502, 504).

    `retry_after` (seconds) becomes a Retry-After header: the refusal is momentary."""

    def __init__(self, status: int, message: str, *, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after
