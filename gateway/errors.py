"""The one error of the forwarding path: a request the gateway answers itself, as JSON."""


class EdgeError(Exception):
    """Refused at the edge (400, 401, 404, 413, 503) or failed upstream (502, 504)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message
