"""The gateway's own settings, read from the environment (merged over service_kit's)."""

from service_kit.config import MiB, megabytes, seconds


def from_environment() -> dict:
    return {
        # Seconds to connect to a service, and for each read from it (then 504).
        "GATEWAY_UPSTREAM_CONNECT_TIMEOUT": seconds("GATEWAY_UPSTREAM_CONNECT_TIMEOUT", 2.0),
        "GATEWAY_UPSTREAM_READ_TIMEOUT": seconds("GATEWAY_UPSTREAM_READ_TIMEOUT", 10.0),
        # Streamed file uploads may be this large (the catalog applies MATERIAL_FILE_MAX_MB);
        # every other request body keeps the 1 MiB cap.
        "GATEWAY_UPLOAD_MAX_BYTES": megabytes("GATEWAY_UPLOAD_MAX_MB", 100) * MiB,
    }
