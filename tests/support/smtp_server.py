"""A real SMTP server process for tests: aiosmtpd, on a free port, with STARTTLS (a certificate
of a test CA made here) and a login both required, delivering into a Maildir the tests read.

    python -m tests.support.smtp_server --port P --maildir D --cert C --key K --login U:W

`SmtpServerProcess` starts and stops it, makes the CA and the server's certificate, and reads
the delivered messages. The portal's worker trusts the CA through SSL_CERT_FILE, so its
STARTTLS is verified exactly as against a real server.
"""

import argparse
import datetime
import email
import email.policy
import ipaddress
import mailbox
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from pathlib import Path

from service_kit.config import REPO_ROOT
from tests.support.processes import free_port, stop_process

LOGIN, PASSWORD = "portal-mailer", "smtp-secret-1"


def main() -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Mailbox
    from aiosmtpd.smtp import AuthResult, LoginPassword

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--login", required=True)
    parser.add_argument("--implicit-tls", action="store_true", help="TLS from the first byte")
    args = parser.parse_args()
    login, _, password = args.login.partition(":")

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode() == login and auth_data.password.decode() == password
        )
        return AuthResult(success=ok)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)
    # With implicit TLS aiosmtpd cannot tell the connection is encrypted (its STARTTLS state is
    # unset), so it must be told that AUTH may be offered.
    tls = (
        {"ssl_context": context, "auth_require_tls": False}
        if args.implicit_tls
        else {"tls_context": context}
    )
    controller = Controller(
        Mailbox(args.maildir),
        hostname="127.0.0.1",
        port=args.port,
        require_starttls=not args.implicit_tls,
        authenticator=authenticate,
        auth_required=True,
        **tls,
    )
    controller.start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    print("ready", flush=True)
    stopped.wait()
    controller.stop()


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A test CA and the server's certificate for 127.0.0.1 and localhost: (ca, cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "course-portal test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = (directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


class SmtpServerProcess:
    """The server as a process; `stop()` and `start()` again keep its port, certificate and
    Maildir, to test an outage."""

    def __init__(self, directory: Path | None = None, implicit_tls: bool = False):
        self.implicit_tls = implicit_tls
        self.directory = directory or Path(tempfile.mkdtemp(prefix="smtp-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.maildir = self.directory / "Maildir"
        self.ca, self.cert, self.key = make_certificates(self.directory)
        self.log_path = self.directory / "smtp.log"
        self.process: subprocess.Popen | None = None

    @property
    def env(self) -> dict[str, str]:
        """What the portal's auth and auth-worker need to send through it."""
        return {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.port),
            "SMTP_USERNAME": LOGIN,
            "SMTP_PASSWORD": PASSWORD,
            "SMTP_TLS": "tls" if self.implicit_tls else "starttls",
            "SMTP_FROM": "Портал учебных материалов <noreply@portal.test>",
            "SSL_CERT_FILE": str(self.ca),
        }

    def start(self, timeout: float = 20.0) -> "SmtpServerProcess":
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.support.smtp_server",
                    "--port",
                    str(self.port),
                    "--maildir",
                    str(self.maildir),
                    "--cert",
                    str(self.cert),
                    "--key",
                    str(self.key),
                    "--login",
                    f"{LOGIN}:{PASSWORD}",
                    *(["--implicit-tls"] if self.implicit_tls else []),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the SMTP server exited: {self.output()}")
            if "ready" in self.output():
                return self
            time.sleep(0.05)
        raise RuntimeError(f"the SMTP server did not start: {self.output()}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def messages(self, to: str | None = None) -> list[EmailMessage]:
        """The delivered messages (oldest first), those to `to` if given."""
        if not self.maildir.exists():
            return []
        box = mailbox.Maildir(self.maildir, create=False)
        found = []
        for key in box.iterkeys():
            delivered = box.get_message(key).get_date()
            message = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
            if to is None or to.lower() in str(message["To"]).lower():
                found.append((delivered, message))
        return [message for _delivered, message in sorted(found, key=lambda pair: pair[0])]

    def wait_for(self, to: str, count: int = 1, timeout: float = 30.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.messages(to)
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"{count} message(s) to {to} did not arrive: {self.messages()}")

    def stop(self) -> None:
        stop_process(self.process)

    def __enter__(self) -> "SmtpServerProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":
    main()
