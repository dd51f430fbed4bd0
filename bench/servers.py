"""The processes under test: each service under gunicorn as the Procfile runs it, nginx as the
reference reverse proxy, and the OpenAI stand-in of the tests as the assistant's model provider."""

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from service_kit.config import REPO_ROOT
from tests.support.openai_standin import OpenAIStandIn
from tests.support.processes import ServerProcess, free_port, stop_process

PROCFILE = REPO_ROOT / "Procfile"
# deploy/gunicorn.conf.py's defaults, for a service the Procfile does not list (yet).
DEFAULT_GUNICORN_OPTIONS = ("--workers", "2", "--threads", "4")
# Options of a Procfile line that the benchmark replaces: its own port, its own log level.
REPLACED_OPTIONS = {"--bind", "-b", "--log-level", "--access-logfile", "--error-logfile"}


def procfile_options(
    app_spec: str, procfile: Path = PROCFILE
) -> tuple[list[str], dict[str, str], str]:
    """The gunicorn options of the Procfile line serving `app_spec` (config file, workers,
    threads, ...) without the ones the benchmark sets itself, the environment assignments
    before the command, and where they came from."""
    if procfile.exists():
        for line in procfile.read_text().splitlines():
            name, _, command = line.partition(":")
            words = shlex.split(command)
            if "gunicorn" not in words or app_spec not in words:
                continue
            start = words.index("gunicorn")
            env = dict(word.split("=", 1) for word in words[:start] if "=" in word)
            options = words[start + 1 :]
            options.remove(app_spec)
            return _without_replaced(options), env, f"Procfile ({name.strip()})"
    return list(DEFAULT_GUNICORN_OPTIONS), {}, "deploy/gunicorn.conf.py defaults"


def with_overrides(options: list[str], overrides: list[str]) -> list[str]:
    """`options` with every option named in `overrides` replaced by the override's value."""
    named = {item.split("=", 1)[0] for item in overrides if item.startswith("-")}
    return _without(options, named) + overrides


def _without_replaced(options: list[str]) -> list[str]:
    return _without(options, REPLACED_OPTIONS)


def _without(options: list[str], names: set[str]) -> list[str]:
    kept, skip = [], False
    for option in options:
        if skip:
            skip = False
            continue
        key = option.split("=", 1)[0]
        if key in names:
            skip = "=" not in option
            continue
        kept.append(option)
    return kept


def option_value(options: list[str], name: str) -> str | None:
    for index, option in enumerate(options):
        if option == name and index + 1 < len(options):
            return options[index + 1]
        if option.startswith(name + "="):
            return option.split("=", 1)[1]
    return None


class Service(ServerProcess):
    """One service under gunicorn on a free loopback port, with its Procfile line's options."""

    ready_path = "/health/ready"

    def __init__(
        self,
        name: str,
        app_spec: str,
        env: dict[str, str],
        log_dir: Path,
        *,
        settings_of: str | None = None,
    ):
        """`settings_of`: the app spec whose Procfile line's options to run with (default
        `app_spec`'s own)."""
        super().__init__(app_spec, {}, log_path=log_dir / f"{name}.log")
        self.name = name
        self.options, procfile_env, self.options_source = procfile_options(settings_of or app_spec)
        if settings_of:
            self.options_source += f" of {settings_of}"
        # BENCH_GUNICORN_CATALOG="--workers 3 --threads 4" (and so on per service) tries other
        # settings; every figure states where its settings came from.
        settings_spec = settings_of or app_spec
        override_name = "BENCH_GUNICORN_" + settings_spec.split("_service")[0].split(":")[0].upper()
        if os.environ.get(override_name):
            overrides = _without_replaced(shlex.split(os.environ[override_name]))
            self.options = with_overrides(self.options, overrides)
            self.options_source += f" + {override_name}"
        if "PROMETHEUS_MULTIPROC_DIR" in procfile_env:
            # Metrics as in production (files shared by the workers), in a directory of this
            # process alone: gunicorn empties it at start.
            procfile_env["PROMETHEUS_MULTIPROC_DIR"] = str(log_dir.parent / "metrics" / name)
        self.env = {
            **self.env,
            **procfile_env,
            "LOG_LEVEL": "WARNING",  # request lines would make log I/O part of every figure
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.workers = (
            option_value(self.options, "--workers") or option_value(self.options, "-w") or "1"
        )
        self.threads = option_value(self.options, "--threads") or "1"

    def command(self) -> list[str]:
        command = [
            sys.executable, "-m", "gunicorn", self.app_spec,
            *self.options,
            "--bind", f"127.0.0.1:{self.port}",
            "--log-level", "warning",
        ]  # fmt: skip
        if "--no-control-socket" not in command:
            command.append("--no-control-socket")
        return command

    def describe(self) -> str:
        settings = f"--workers {self.workers} --threads {self.threads}"
        return f"{self.name}: {settings} ({self.options_source})"


NGINX_CONF = """\
worker_processes auto;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream catalog {{
        server 127.0.0.1:{upstream_port};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://catalog;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
        }}
    }}
}}
"""


class Nginx:
    """nginx in the foreground (daemon off) under a prefix directory of its own."""

    name = "nginx"

    def __init__(self, upstream_port: int, prefix: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.prefix = prefix
        self.upstream_port = upstream_port
        self.process: subprocess.Popen | None = None

    def launch(self) -> "Nginx":
        self.prefix.mkdir(parents=True, exist_ok=True)
        # Workers drop to an unprivileged user when started as root; they must reach the prefix.
        self.prefix.chmod(0o755)
        config = self.prefix / "nginx.conf"
        config.write_text(
            NGINX_CONF.format(prefix=self.prefix, port=self.port, upstream_port=self.upstream_port)
        )
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        with (self.prefix / "stdout.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    nginx,
                    "-p",
                    str(self.prefix),
                    "-c",
                    str(config),
                    "-e",
                    str(self.prefix / "error.log"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                error_log = self.prefix / "error.log"
                detail = error_log.read_text() if error_log.exists() else ""
                raise RuntimeError(f"nginx exited:\n{detail}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + "/health/live", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError("nginx did not answer in time")

    def stop(self) -> None:
        # SIGQUIT is nginx's graceful shutdown; SIGTERM would do too.
        stop_process(self.process, signal.SIGQUIT)

    def describe(self) -> str:
        return "nginx: worker_processes auto, keepalive upstream pool of 64, access_log off"


class Provider:
    """The model provider of the course assistant: the tests' OpenAI stand-in (a threading HTTP
    server speaking the API's wire format), scripted by the assistant's scenarios."""

    name = "provider"

    def __init__(self, log_dir: Path):
        self.standin = OpenAIStandIn(log_path=log_dir / "provider.log")
        self.url = self.standin.url
        self.base_url = self.standin.base_url
        self.api_key = self.standin.api_key
        self.process: subprocess.Popen | None = None

    def launch(self) -> "Provider":
        self.standin.start()  # returns once it answers
        self.process = self.standin.process
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"the OpenAI stand-in is not running: {self.standin.output()}")

    def reset(self) -> None:
        self.standin.reset()

    def script_chat(self, contents: list[str], *, seconds_between_pieces: float = 0.0) -> None:
        self.standin.script_chat(contents, seconds_between_pieces=seconds_between_pieces)

    def stop(self) -> None:
        self.standin.stop()

    def describe(self) -> str:
        return "provider: OpenAI stand-in (tests/support/openai_standin.py), threading server"
