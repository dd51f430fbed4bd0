"""The init script that compose and the dev cluster run on a new PostgreSQL data directory:
one database and role per service, C.UTF-8 collation (Cyrillic folds), pg_trgm for the catalog,
and each service able to run its migrations with its own role only.

Runs the script against a throwaway cluster made with initdb, as the postgres image would; the
cluster is started as the `postgres` system user, which needs root.
"""

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

from service_kit.config import REPO_ROOT
from service_kit.migrations import upgrade
from tests.support.processes import free_port

INIT_SCRIPT = REPO_ROOT / "k8s" / "overlays" / "dev" / "postgres" / "init-databases.sh"
PASSWORDS = {"catalog": "c'at\"alog pw", "favorites": "fav-pw", "auth": "auth pw%",
             "assistant": "assist:ant@pw"}  # fmt: skip
PACKAGES = {"catalog": "catalog_service", "favorites": "favorites_service", "auth": "auth_service",
            "assistant": "assistant_service"}  # fmt: skip


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or _postgres_bin() is None or not shutil.which("runuser"),
    reason="needs root and PostgreSQL's server binaries (initdb) to make a throwaway cluster",
)


def _as_postgres(*command: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *command],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )


@dataclass(frozen=True)
class Cluster:
    port: int
    socket_directory: Path


def _script_env(directory: Path, port: int, passwords: dict[str, str]) -> dict[str, str]:
    env = {"POSTGRES_USER": "postgres", "PGHOST": str(directory), "PGPORT": str(port)}
    return env | {f"{name.upper()}_DB_PASSWORD": password for name, password in passwords.items()}


@pytest.fixture(scope="module")
def cluster():
    """A new cluster initialised like the image's (UTF8, C.UTF-8), then the init script."""
    binaries = _postgres_bin()
    directory = Path(tempfile.mkdtemp(prefix="pg-init-"))
    shutil.chown(directory, "postgres")
    port = free_port()
    data = directory / "data"
    _as_postgres(
        str(binaries / "initdb"), "-D", str(data), "-U", "postgres",
        "--encoding=UTF8", "--locale=C.UTF-8", "--auth=trust",
    )  # fmt: skip
    _as_postgres(
        str(binaries / "pg_ctl"), "-D", str(data), "-w", "-l", str(directory / "log"),
        "-o", f"-p {port} -k {directory} -c listen_addresses=127.0.0.1",
        "start",
    )  # fmt: skip
    try:
        _as_postgres("bash", str(INIT_SCRIPT), env=_script_env(directory, port, PASSWORDS))
        yield Cluster(port, directory)
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            _as_postgres(str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "stop")
        time.sleep(0.2)
        shutil.rmtree(directory, ignore_errors=True)


def _url(port: int, service: str) -> str:
    return f"postgresql://{service}:{quote(PASSWORDS[service], safe='')}@127.0.0.1:{port}/{service}"


@pytest.mark.parametrize("service", PACKAGES)
def test_each_service_gets_its_own_unicode_aware_database(cluster, service):
    engine = create_engine(
        _url(cluster.port, service).replace("postgresql:", "postgresql+psycopg:")
    )
    try:
        with engine.connect() as connection:
            row = connection.execute(
                text(
                    "SELECT datcollate, datctype, pg_get_userbyid(datdba), current_user,"
                    " lower('ЁЛКА Ünïcode') FROM pg_database WHERE datname = current_database()"
                )
            ).one()
    finally:
        engine.dispose()
    assert tuple(row) == ("C.UTF-8", "C.UTF-8", service, service, "ёлка ünïcode")


@pytest.mark.parametrize("service", PACKAGES)
def test_each_service_migrates_with_its_own_role(cluster, service):
    upgrade(PACKAGES[service], _url(cluster.port, service))
    engine = create_engine(
        _url(cluster.port, service).replace("postgresql:", "postgresql+psycopg:")
    )
    try:
        with engine.connect() as connection:
            tables = connection.execute(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            ).scalar_one()
            extensions = set(connection.execute(text("SELECT extname FROM pg_extension")).scalars())
    finally:
        engine.dispose()
    assert tables >= 2  # its own tables and its alembic version table
    assert ("pg_trgm" in extensions) == (service == "catalog")


def test_services_cannot_open_each_others_databases(cluster):
    url = _url(cluster.port, "favorites").rsplit("/", 1)[0] + "/catalog"
    engine = create_engine(url.replace("postgresql:", "postgresql+psycopg:"))
    try:
        with pytest.raises(Exception, match="permission denied"), engine.connect():
            pass
    finally:
        engine.dispose()


def test_run_again_it_adds_a_new_services_database_and_leaves_the_others(cluster):
    """A data directory made before the assistant existed: the script, run again, creates the
    assistant's role and database, and leaves the other roles (their passwords) and databases as
    they are."""
    admin = ["psql", "--variable=ON_ERROR_STOP=1", "--username", "postgres", "--dbname", "postgres",
             "--tuples-only", "--no-align"]  # fmt: skip
    where = {"PGHOST": str(cluster.socket_directory), "PGPORT": str(cluster.port)}

    def query(sql: str) -> str:
        return _as_postgres(*admin, "--command", sql, env=where).stdout.strip()

    state = (
        "SELECT string_agg(concat_ws(' ', r.rolname, r.rolpassword, d.oid, d.datcollate), ', '"
        " ORDER BY r.rolname) FROM pg_authid r JOIN pg_database d ON d.datname = r.rolname"
        " WHERE NOT r.rolsuper"
    )
    before = query(state)
    query("DROP DATABASE assistant WITH (FORCE)")
    query("DROP ROLE assistant")
    changed = {name: password + " new" for name, password in PASSWORDS.items()}
    _as_postgres(
        "bash", str(INIT_SCRIPT), env=_script_env(cluster.socket_directory, cluster.port, changed)
    )
    after = query(state)
    others = [entry for entry in before.split(", ") if not entry.startswith("assistant ")]
    assert [entry for entry in after.split(", ") if not entry.startswith("assistant ")] == others
    assert len(others) == len(PACKAGES) - 1
    # The assistant's role has the password it was given now, its database C.UTF-8 and private.
    check = query(
        "SELECT rolpassword IS NOT NULL, datcollate, datctype, pg_get_userbyid(datdba),"
        " has_database_privilege('favorites', 'assistant', 'CONNECT')"
        " FROM pg_authid, pg_database WHERE rolname = 'assistant' AND datname = 'assistant'"
    )
    assert check == "t|C.UTF-8|C.UTF-8|assistant|f"
