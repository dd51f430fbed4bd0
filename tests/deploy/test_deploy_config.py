"""The deployment files agree with the code and with each other: every variable the code reads
is configured everywhere, ports and probe paths are the code's, and every workload is locked
down the same way."""

import base64
import importlib
import os
import re
import runpy
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from service_kit.config import DEFAULT_PORTS, REPO_ROOT, env_config

from .conftest import GUNICORN_CONFIG
from .images import PACKAGES, build_args, final_stage, image_command, image_files

DATABASE_SERVICES = ("catalog", "favorites", "auth", "assistant")

# Read by the code, but meaningless inside a container: .env.example lists them, compose and
# Kubernetes leave them alone.
LOCAL_ONLY = {
    "VAR_DIR": "SQLite files and the generated dev key; containers use PostgreSQL and a secret",
    "GUNICORN_BIND": "containers listen on 0.0.0.0:$PORT",
    "GUNICORN_WORKER_TMP_DIR": "containers keep the default, /tmp (a volume of its own)",
    "DEMO_TEACHER_ID": "an option of the operator command `seed-demo`, not of the service",
    "FILE_STORAGE_DIR": "containers keep files in S3 (MinIO in compose and dev), not on a disk",
    "ASSISTANT_DEMO_DATASET": "`make run`'s demo only (the Procfile's assistant-worker line)",
}
# Read by a library the code hands them to, not by the code: boto3 takes the object store's
# credentials from the environment itself (catalog_service/storage.py).
READ_BY_LIBRARIES = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
# Set by every image (Dockerfile ENV), so compose and Kubernetes need not repeat them.
SET_BY_IMAGE = {"PORT", "PROMETHEUS_MULTIPROC_DIR"}

# The uploaded files, on the object store: what the catalog and its worker both read.
FILE_STORE = {"FILE_STORAGE", "S3_ENDPOINT_URL", "S3_BUCKET", "S3_REGION", "AWS_ACCESS_KEY_ID",
              "AWS_SECRET_ACCESS_KEY"}  # fmt: skip
# The model provider, an OpenAI-compatible API on the internet: what the assistant and its
# worker both read (the key is a secret), and where tiktoken's ranks go (a writable directory).
MODEL_PROVIDER = {"OPENAI_API_KEY", "OPENAI_BASE_URL", "ASSISTANT_TEACHER_MODEL", "OPENAI_TIMEOUT",
                  "OPENAI_MAX_RETRIES", "TIKTOKEN_CACHE_DIR"}  # fmt: skip
# The only processes that may reach the internet (the provider, HTTPS): compose gives them a
# network that is not internal, the cluster an egress rule to TCP 443.
MODEL_PROVIDER_CLIENTS = {"assistant", "assistant-worker"}
# auth signs users in through the university's OpenID Connect provider, outside too, and its
# worker hands mail to the SMTP server.
IDENTITY_PROVIDER_CLIENTS = {"auth"}
SMTP_CLIENTS = {"auth-worker"}
# Processes with no HTTP that run a service's image with another command: compose service and
# k8s Deployment name -> the service whose image, database and secrets it uses, its command.
WORKERS = {
    "catalog-worker": ("catalog", ["huey_consumer", "catalog_service.tasks.huey"]),
    "auth-worker": ("auth", ["huey_consumer", "auth_service.tasks.huey"]),
    "assistant-worker": ("assistant", ["huey_consumer", "assistant_service.tasks.huey"]),
}

# What each process cannot run correctly without, beyond its local defaults.
NEEDED_BY = {
    "gateway": {"AUTH_JWKS_URL", "JWT_ISSUER", "JWT_AUDIENCE", "CATALOG_URL", "FAVORITES_URL",
                "AUTH_URL", "ASSISTANT_URL"},
    "catalog": {"DATABASE_URL", "AUTH_JWKS_URL", "JWT_ISSUER", "JWT_AUDIENCE", "REDIS_URL",
                "MATERIAL_FILE_MAX_MB", *FILE_STORE},
    # The queue (REDIS_URL), the rows (DATABASE_URL) and the files of the catalog.
    "catalog-worker": {"DATABASE_URL", "REDIS_URL", "TEXT_EXTRACTION_TIMEOUT", *FILE_STORE},
    "favorites": {"DATABASE_URL", "AUTH_JWKS_URL", "JWT_ISSUER", "JWT_AUDIENCE", "CATALOG_URL"},
    "auth": {"DATABASE_URL", "JWT_ISSUER", "JWT_AUDIENCE", "JWT_PRIVATE_KEY_FILE",
             "TRUSTED_PROXIES", "REDIS_URL"},
    "assistant": {"DATABASE_URL", "AUTH_JWKS_URL", "JWT_ISSUER", "JWT_AUDIENCE", "CATALOG_URL",
                  "REDIS_URL", "ASSISTANT_TEACHING_CACHE_SECONDS", *MODEL_PROVIDER},
    # The queue, the rows, the catalog (the demo dataset's courses) and the provider.
    "assistant-worker": {"DATABASE_URL", "REDIS_URL", "CATALOG_URL", *MODEL_PROVIDER},
    # The queue, the outbox and the SMTP server.
    "auth-worker": {"DATABASE_URL", "REDIS_URL", "SMTP_HOST"},
}  # fmt: skip
URL_VARIABLES = {"CATALOG_URL": "catalog", "FAVORITES_URL": "favorites", "AUTH_URL": "auth",
                 "AUTH_JWKS_URL": "auth", "ASSISTANT_URL": "assistant"}  # fmt: skip

_DIRECT_READ = re.compile(
    r"""(?:os\.environ\.get\(|os\.getenv\(|os\.environ\[|\benv\(|envvar=)\s*["']([A-Z][A-Z0-9_]+)["']"""
)


class RecordingEnviron(dict):
    """An empty environment that remembers every name asked for."""

    def __init__(self):
        super().__init__()
        self.names: set[str] = set()

    def get(self, key, default=None):
        self.names.add(key)
        return default

    def __getitem__(self, key):
        self.names.add(key)
        raise KeyError(key)

    def __contains__(self, key):
        self.names.add(key)
        return False


def _source_files() -> list[Path]:
    files = [GUNICORN_CONFIG]
    for package in ("service_kit", *PACKAGES.values()):
        files += (REPO_ROOT / package).rglob("*.py")
    return [path for path in files if "migrations" not in path.parts]


@pytest.fixture(scope="module")
def variables(monkeypatch_module) -> set[str]:
    """Every environment variable the code reads: found in the source, and recorded while the
    configuration functions run (they read names passed through helpers, like _seconds), plus
    those a library reads for it."""
    names = set(READ_BY_LIBRARIES)
    for path in _source_files():
        names |= set(_DIRECT_READ.findall(path.read_text()))
    # Imported first: what libraries read while they are imported (HOME, PSYCOPG_IMPL...) is
    # not the portal's configuration.
    settings_modules = [
        importlib.import_module(f"{package}.settings")
        for package in PACKAGES.values()
        if (REPO_ROOT / package / "settings.py").exists()
    ]
    recorder = RecordingEnviron()
    monkeypatch_module.setattr(os, "environ", recorder)
    for service in PACKAGES:
        env_config(service)
    for module in settings_modules:
        module.from_environment()
    runpy.run_path(str(GUNICORN_CONFIG))
    monkeypatch_module.undo()
    names |= recorder.names
    assert {"DATABASE_URL", "AUTH_JWKS_URL", "GUNICORN_WORKERS", "S3_BUCKET"} <= names  # it works
    assert "boto3" in (REPO_ROOT / "catalog_service" / "storage.py").read_text()
    return names


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _deployed(variables: set[str]) -> set[str]:
    return variables - set(LOCAL_ONLY) - SET_BY_IMAGE


# --- .env.example -----------------------------------------------------------------------------


def test_env_example_lists_every_variable(variables):
    example = REPO_ROOT / ".env.example"
    assert example.exists(), ".env.example is missing"
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example.read_text(), re.MULTILINE))
    assert variables - listed == set()


# --- Procfile (make run) ----------------------------------------------------------------------


def _procfile() -> dict[str, list[str]]:
    lines = (REPO_ROOT / "Procfile").read_text().splitlines()
    return {
        name: shlex.split(command)
        for name, _, command in (line.partition(":") for line in lines if line.strip())
    }


@pytest.mark.parametrize("worker", WORKERS)
def test_make_run_starts_the_worker_with_the_same_command(worker, compose):
    """Locally: the SQLite queue and files under var/ (no Redis, no MinIO), no metrics."""
    _service, command = WORKERS[worker]
    words = _procfile()[worker]
    # No environment of its own, except what only `make run` sets (the assistant's demo data).
    while words and re.fullmatch(r"[A-Z][A-Z0-9_]*=.*", words[0]):
        assert words.pop(0).partition("=")[0] in LOCAL_ONLY
    assert words[: len(command)] == command
    options = compose["services"][worker]["command"][len(command) :]
    assert _option(words, "--workers") == _option(options, "--workers")
    assert _option(words, "--graceful-signal") == "TERM"
    # honcho kills what is still running 5 s after Ctrl-C: the worker stops before that.
    assert float(_option(words, "--shutdown-timeout")) < 5


# --- docker compose ---------------------------------------------------------------------------


def _compose_environment(compose: dict, service: str) -> dict[str, str]:
    return compose["services"][service].get("environment") or {}


def test_compose_configures_every_variable(compose, variables):
    configured = set()
    for name in (*PACKAGES, *WORKERS):
        configured |= set(_compose_environment(compose, name))
    assert _deployed(variables) - configured == set()
    assert configured - variables == set(), "compose sets variables no code reads"


@pytest.mark.parametrize("service", PACKAGES)
def test_compose_gives_each_service_what_it_needs(compose, service):
    assert NEEDED_BY[service] - set(_compose_environment(compose, service)) == set()


@pytest.mark.parametrize("service", DATABASE_SERVICES)
def test_compose_migrates_each_database_before_its_service_starts(compose, service):
    migrate = compose["services"][f"{service}-migrate"]
    assert migrate["command"] == ["python", "-m", PACKAGES[service], "migrate"]
    assert migrate["image"] == compose["services"][service]["image"]
    database_url = _compose_environment(compose, service)["DATABASE_URL"]
    assert migrate["environment"]["DATABASE_URL"] == database_url
    assert urlsplit(database_url).path == f"/{service}"  # its own database
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    depends = compose["services"][service]["depends_on"]
    assert depends[f"{service}-migrate"]["condition"] == "service_completed_successfully"


def test_compose_waits_for_healthy_dependencies(compose):
    for service in (*PACKAGES, *WORKERS):
        for dependency, condition in compose["services"][service]["depends_on"].items():
            # A one-shot (migrations, the bucket) has finished; a server answers its health check.
            one_shot = compose["services"][dependency]["restart"] == "no"
            expected = "service_completed_successfully" if one_shot else "service_healthy"
            assert condition["condition"] == expected, (service, dependency)
            assert one_shot or "healthcheck" in compose["services"][dependency], dependency
    assert set(compose["services"]["gateway"]["depends_on"]) >= set(PACKAGES) - {"gateway"}


@pytest.mark.parametrize("service", PACKAGES)
def test_compose_ports_and_health_checks_match_the_code(compose, service):
    port = DEFAULT_PORTS[service]
    check = " ".join(compose["services"][service]["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/health/ready" in check
    for variable, target in URL_VARIABLES.items():
        url = _compose_environment(compose, service).get(variable)
        if url is not None:
            assert urlsplit(url).netloc == f"{target}:{DEFAULT_PORTS[target]}", variable


def test_compose_publishes_only_the_gateway(compose):
    published = {name for name, spec in compose["services"].items() if spec.get("ports")}
    assert published == {"gateway"}
    (port,) = compose["services"]["gateway"]["ports"]
    assert port["target"] == DEFAULT_PORTS["gateway"]


@pytest.mark.parametrize("service", PACKAGES)
def test_compose_services_run_locked_down(compose, service):
    spec = compose["services"][service]
    assert spec["read_only"] is True
    assert spec["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in spec["security_opt"]
    assert spec["healthcheck"]["test"][0] == "CMD"


@pytest.mark.parametrize("worker", WORKERS)
def test_compose_runs_the_worker_from_its_services_image_with_its_environment(compose, worker):
    service, command = WORKERS[worker]
    spec, server = compose["services"][worker], compose["services"][service]
    assert spec["image"] == server["image"] and spec["build"] == server["build"]
    assert spec["command"][: len(command)] == command
    environment = _compose_environment(compose, worker)
    assert NEEDED_BY[worker] - set(environment) == set()
    served = _compose_environment(compose, service)
    shared = NEEDED_BY[worker] & set(served)
    assert {name: environment[name] for name in shared} == {name: served[name] for name in shared}
    # Started after its service's one-shots (migrations, bucket), like the service.
    for dependency, condition in server["depends_on"].items():
        if compose["services"][dependency]["restart"] == "no":
            assert spec["depends_on"][dependency] == condition
    # Serves nothing, has no metrics; locked down like the services.
    assert not spec.get("ports") and not spec.get("expose")
    assert environment["PROMETHEUS_MULTIPROC_DIR"] == ""
    assert spec["read_only"] is True
    assert spec["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in spec["security_opt"]
    assert any(mount.startswith("/tmp:") for mount in spec["tmpfs"])
    assert spec["restart"] == "unless-stopped"
    # SIGTERM lets the running tasks finish (--shutdown-timeout) before compose kills it.
    assert _option(spec["command"], "--graceful-signal") == "TERM"
    timeout = float(_option(spec["command"], "--shutdown-timeout"))
    assert timeout < _seconds(spec["stop_grace_period"])


def _workers_of(service: str) -> list[str]:
    return [worker for worker, (owner, _command) in WORKERS.items() if owner == service]


def test_compose_gives_a_way_out_to_the_gateway_and_the_providers_clients_only(compose):
    """The backend network is internal (no route out); the assistant and its worker (the model
    provider's HTTPS API) and auth (the university's sign-in provider) alone join one that is
    not; the gateway's edge network is for its port."""
    networks = compose["networks"]
    assert networks["backend"].get("internal") is True
    outside = {name for name, network in networks.items() if not network.get("internal")}
    joined = {
        name: set(spec.get("networks") or {}) & outside
        for name, spec in compose["services"].items()
    }
    assert {name for name, joins in joined.items() if joins} == {
        "gateway",
        *MODEL_PROVIDER_CLIENTS,
        *IDENTITY_PROVIDER_CLIENTS,
        *SMTP_CLIENTS,
    }
    assert joined["gateway"] == {"edge"}
    for name in MODEL_PROVIDER_CLIENTS | IDENTITY_PROVIDER_CLIENTS | SMTP_CLIENTS:
        assert joined[name] == {"provider"}, name
        assert "backend" in compose["services"][name]["networks"]  # its database, Redis, catalog
        assert not compose["services"][name].get("ports"), name
    provider_key = _compose_environment(compose, "assistant")["OPENAI_API_KEY"]
    assert provider_key == ""  # from .env only: the default is no key, never one in git
    for name in MODEL_PROVIDER_CLIENTS:
        # An empty OPENAI_BASE_URL would be taken by the SDK as the provider's address.
        assert urlsplit(_compose_environment(compose, name)["OPENAI_BASE_URL"]).scheme == "https"


def test_compose_leaves_local_only_variables_alone(compose):
    for name, spec in compose["services"].items():
        assert set(LOCAL_ONLY) & set(spec.get("environment") or {}) == set(), name


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def _seconds(duration: str) -> float:
    """A compose duration as `config` prints it (1m30s, 30s)."""
    parts = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert parts and duration, duration
    return int(parts[1] or 0) * 60 + int(parts[2] or 0)


def test_compose_stores_files_in_minio_with_its_bucket_made_first(compose):
    services = compose["services"]
    minio, bucket = services["minio"], services["minio-bucket"]
    assert re.fullmatch(r"(quay\.io/)?minio/minio:RELEASE\.[0-9TZ-]+", minio["image"])
    assert re.fullmatch(r"(quay\.io/)?minio/mc:RELEASE\.[0-9TZ-]+", bucket["image"])
    assert any(volume["target"] == "/data" for volume in minio["volumes"])
    assert minio["healthcheck"]["test"][0] == "CMD"
    assert "mb --ignore-existing" in " ".join(bucket["command"])
    for name in ("catalog", *_workers_of("catalog")):
        environment = _compose_environment(compose, name)
        assert environment["FILE_STORAGE"] == "s3"
        assert urlsplit(environment["S3_ENDPOINT_URL"]).netloc == "minio:9000"
        assert environment["S3_BUCKET"] == bucket["environment"]["S3_BUCKET"]
        # The same credentials as MinIO's, from the same settings.
        assert environment["AWS_ACCESS_KEY_ID"] == minio["environment"]["MINIO_ROOT_USER"]
        assert environment["AWS_SECRET_ACCESS_KEY"] == minio["environment"]["MINIO_ROOT_PASSWORD"]
        condition = services[name]["depends_on"]["minio-bucket"]["condition"]
        assert condition == "service_completed_successfully"
    assert bucket["depends_on"]["minio"]["condition"] == "service_healthy"


def test_redis_never_evicts_the_task_queue(compose, overlays):
    """Redis holds the queue next to the cache: only keys with a TTL may be evicted."""
    command = compose["services"]["redis"]["command"]
    assert _option(command, "--maxmemory-policy").startswith("volatile-")
    (container,) = _pod_spec(_objects(overlays["dev"], "Deployment")["redis"])["containers"]
    assert _option(container["args"], "--maxmemory-policy").startswith("volatile-")


def test_compose_passes_the_signing_key_as_a_secret(compose):
    auth = compose["services"]["auth"]
    key_file = _compose_environment(compose, "auth")["JWT_PRIVATE_KEY_FILE"]
    targets = {secret["target"] for secret in auth["secrets"]}
    assert key_file in targets
    assert key_file + ".previous" in targets  # what auth publishes during a rotation
    assert set(compose["secrets"]) == {"jwt_private_key", "jwt_previous_key"}


def test_compose_creates_databases_with_a_unicode_aware_locale(compose):
    postgres = compose["services"]["postgres"]
    assert "--locale=C.UTF-8" in postgres["environment"]["POSTGRES_INITDB_ARGS"]
    script = next(
        volume["source"] for volume in postgres["volumes"] if volume["target"].endswith(".sh")
    )
    text = Path(script).read_text()
    assert "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'" in text
    for service in DATABASE_SERVICES:
        assert f"{service.upper()}_DB_PASSWORD" in postgres["environment"]


# --- Kubernetes -------------------------------------------------------------------------------


def _objects(documents: list[dict], kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in documents if doc["kind"] == kind}


def _generated(documents: list[dict], kind: str, name: str) -> dict:
    """A ConfigMap or Secret made by a kustomize generator (its name carries a hash suffix)."""
    pattern = re.compile(rf"{name}(-[a-z0-9]{{10}})?")
    (found,) = [
        doc
        for doc in documents
        if doc["kind"] == kind and pattern.fullmatch(doc["metadata"]["name"])
    ]
    return found


def _pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def _container_environment(documents: list[dict], container: dict) -> set[str]:
    """The names a container gets: explicit env, plus every key of its envFrom sources."""
    names = {entry["name"] for entry in container.get("env", [])}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            name = source["configMapRef"]["name"]
            names |= set(_objects(documents, "ConfigMap")[name]["data"])
        else:
            name = source["secretRef"]["name"]
            secret = _objects(documents, "Secret")[name]
            names |= set(secret.get("data", {})) | set(secret.get("stringData", {}))
    return names


def test_k8s_configures_every_variable(overlays, variables):
    dev = overlays["dev"]
    configured = set(_generated(dev, "ConfigMap", "portal-config")["data"])
    for service in DATABASE_SERVICES:
        configured |= set(_generated(dev, "Secret", f"{service}-secrets")["data"])
    assert _deployed(variables) - configured == set()
    assert configured - variables == set(), "the cluster sets variables no code reads"


@pytest.mark.parametrize("service", PACKAGES)
def test_k8s_gives_each_container_what_it_needs(overlays, service):
    dev = overlays["dev"]
    spec = _pod_spec(_objects(dev, "Deployment")[service])
    (container,) = spec["containers"]
    assert NEEDED_BY[service] - _container_environment(dev, container) == set()
    for init in spec.get("initContainers", []):
        assert "DATABASE_URL" in _container_environment(dev, init)
        assert init["command"] == ["python", "-m", PACKAGES[service], "migrate"]
        assert init["image"] == container["image"]
    assert bool(spec.get("initContainers")) == (service in DATABASE_SERVICES)


@pytest.mark.parametrize("overlay", ["dev", "prod"])
@pytest.mark.parametrize("worker", WORKERS)
def test_k8s_runs_the_worker_from_its_services_image_with_its_configuration(
    overlays, overlay, worker
):
    documents = overlays[overlay]
    service, command = WORKERS[worker]
    deployments = _objects(documents, "Deployment")
    spec = _pod_spec(deployments[worker])
    (container,) = spec["containers"]
    (server,) = _pod_spec(deployments[service])["containers"]
    assert container["image"] == server["image"]
    assert container["command"][: len(command)] == command
    assert container["envFrom"] == server["envFrom"]  # the same ConfigMap and Secret
    if overlay == "dev":  # prod's Secrets are made outside git
        assert NEEDED_BY[worker] - _container_environment(documents, container) == set()
    assert {"name": "PROMETHEUS_MULTIPROC_DIR", "value": ""} in container["env"]
    # No HTTP: no port, no probe, no preStop pause, no Service, not scraped.
    assert "ports" not in container and "lifecycle" not in container
    assert not {"startupProbe", "livenessProbe", "readinessProbe"} & set(container)
    labels = deployments[worker]["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "worker"
    for service_object in _objects(documents, "Service").values():
        selector = {"matchLabels": service_object["spec"]["selector"]}
        assert not _selects(selector, labels), service_object["metadata"]["name"]
    annotations = deployments[worker]["spec"]["template"]["metadata"]["annotations"]
    assert annotations.get("prometheus.io/scrape") != "true"
    # SIGTERM lets the running tasks finish before the pod is killed.
    assert _option(container["command"], "--graceful-signal") == "TERM"
    timeout = float(_option(container["command"], "--shutdown-timeout"))
    assert timeout < spec["terminationGracePeriodSeconds"]


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_k8s_keeps_the_provider_key_in_the_assistants_secret(overlays, overlay):
    config = _generated(overlays[overlay], "ConfigMap", "portal-config")["data"]
    assert "OPENAI_API_KEY" not in config
    # An empty OPENAI_BASE_URL would be taken by the SDK as the provider's address.
    assert urlsplit(config["OPENAI_BASE_URL"]).scheme == "https"
    if overlay == "dev":  # prod's Secrets are made outside git
        secret = _generated(overlays["dev"], "Secret", "assistant-secrets")["data"]
        assert secret["OPENAI_API_KEY"] == ""  # no key in git: the assistant works without one
        assert urlsplit(base64.b64decode(secret["DATABASE_URL"]).decode()).path == "/assistant"
        queues = {
            service: base64.b64decode(
                _generated(overlays["dev"], "Secret", f"{service}-secrets")["data"]["REDIS_URL"]
            ).decode()
            for service in ("catalog", "auth", "assistant")
        }
        assert len(set(queues.values())) == len(queues)  # a Redis DB number each


def test_token_counts_have_a_writable_directory(compose, overlays):
    """tiktoken's ranks are written to TIKTOKEN_CACHE_DIR at first use: under /tmp (tmpfs in
    compose, an emptyDir in the cluster), as the root filesystem is read-only."""
    for name in MODEL_PROVIDER_CLIENTS:
        directory = _compose_environment(compose, name)["TIKTOKEN_CACHE_DIR"]
        assert any(directory.startswith(mount.split(":")[0] + "/")
                   for mount in compose["services"][name]["tmpfs"]), name  # fmt: skip
    for documents in overlays.values():
        directory = _generated(documents, "ConfigMap", "portal-config")["data"][
            "TIKTOKEN_CACHE_DIR"
        ]
        for name in MODEL_PROVIDER_CLIENTS:
            spec = _pod_spec(_objects(documents, "Deployment")[name])
            (container,) = spec["containers"]
            volumes = {volume["name"]: volume for volume in spec["volumes"]}
            writable = [
                mount["mountPath"]
                for mount in container["volumeMounts"]
                if "emptyDir" in volumes[mount["name"]] and not mount.get("readOnly")
            ]
            assert any(directory.startswith(path + "/") for path in writable), name


def test_k8s_stores_files_in_minio_in_dev_and_in_an_s3_bucket_in_prod(overlays):
    dev_config = _generated(overlays["dev"], "ConfigMap", "portal-config")["data"]
    assert dev_config["FILE_STORAGE"] == "s3"
    endpoint = urlsplit(dev_config["S3_ENDPOINT_URL"])
    minio = _objects(overlays["dev"], "Service")[endpoint.hostname]
    assert minio["spec"]["ports"][0]["port"] == endpoint.port
    dev_secrets = _generated(overlays["dev"], "Secret", "catalog-secrets")["data"]
    credentials = _generated(overlays["dev"], "Secret", "minio-credentials")["data"]
    assert dev_secrets["AWS_ACCESS_KEY_ID"] == credentials["MINIO_ROOT_USER"]
    assert dev_secrets["AWS_SECRET_ACCESS_KEY"] == credentials["MINIO_ROOT_PASSWORD"]
    (job,) = _objects(overlays["dev"], "Job").values()
    (mc,) = _pod_spec(job)["containers"]
    assert "mb --ignore-existing" in " ".join(mc["command"])
    bucket = {entry["name"]: entry.get("value") for entry in mc["env"]}["S3_BUCKET"]
    assert bucket == dev_config["S3_BUCKET"]

    prod_config = _generated(overlays["prod"], "ConfigMap", "portal-config")["data"]
    assert prod_config["FILE_STORAGE"] == "s3"
    assert prod_config["S3_ENDPOINT_URL"] == ""  # AWS S3 itself
    assert prod_config["S3_BUCKET"] and prod_config["S3_REGION"]
    assert "minio" not in {doc["metadata"]["name"] for doc in overlays["prod"]}


def test_prod_reads_the_same_configuration_and_secrets_as_dev(overlays):
    def references(documents):
        result = {}
        for name, deployment in _objects(documents, "Deployment").items():
            if name in PACKAGES or name in WORKERS:
                spec = _pod_spec(deployment)
                result[name] = [
                    (c["name"], [sorted(source.items())[0][0] for source in c.get("envFrom", [])])
                    for c in spec.get("initContainers", []) + spec["containers"]
                ]
        return result

    assert references(overlays["prod"]) == references(overlays["dev"])
    prod_secrets = set(_objects(overlays["prod"], "Secret"))
    assert prod_secrets == set(), "production secrets never come from git"


def test_k8s_urls_point_at_the_services(overlays):
    for overlay in overlays.values():
        config = _generated(overlay, "ConfigMap", "portal-config")["data"]
        services = _objects(overlay, "Service")
        for variable, target in URL_VARIABLES.items():
            url = urlsplit(config[variable])
            assert url.hostname == target and url.port == DEFAULT_PORTS[target]
            assert services[target]["spec"]["ports"][0]["port"] == DEFAULT_PORTS[target]
        assert urlsplit(config["AUTH_JWKS_URL"]).path == "/.well-known/jwks.json"


@pytest.mark.parametrize("overlay", ["dev", "prod"])
@pytest.mark.parametrize("service", PACKAGES)
def test_k8s_ports_probes_and_scraping_match_the_code(overlays, overlay, service):
    documents = overlays[overlay]
    deployment = _objects(documents, "Deployment")[service]
    (container,) = _pod_spec(deployment)["containers"]
    port = DEFAULT_PORTS[service]
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/health/live"
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port)
    assert annotations["prometheus.io/path"] == "/metrics"
    service_object = _objects(documents, "Service")[service]
    assert service_object["spec"]["ports"] == [{"name": "http", "port": port, "targetPort": "http"}]


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_every_workload_is_locked_down(overlays, overlay):
    workloads = [
        doc for doc in overlays[overlay] if doc["kind"] in {"Deployment", "StatefulSet", "Job"}
    ]
    assert len(workloads) >= 4
    for workload in workloads:
        name = workload["metadata"]["name"]
        spec = _pod_spec(workload)
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in spec.get("initContainers", []) + spec["containers"]:
            where = f"{name}/{container['name']}"
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True, where
            assert security["runAsUser"] > 0, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["capabilities"] == {"drop": ["ALL"]}, where
            assert security["seccompProfile"] == {"type": "RuntimeDefault"}, where
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), where
            assert {"cpu", "memory"} <= set(resources["limits"]), where
        # Servers are probed; a worker answers nothing to probe, a Job runs to its end.
        component = workload["spec"]["template"]["metadata"]["labels"].get(
            "app.kubernetes.io/component"
        )
        if workload["kind"] != "Job" and component != "worker":
            for container in spec["containers"]:
                assert "readinessProbe" in container and "livenessProbe" in container, name


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_app_pods_run_as_the_image_user_with_a_writable_tmp(overlays, overlay):
    for service in (*PACKAGES, *WORKERS):
        spec = _pod_spec(_objects(overlays[overlay], "Deployment")[service])
        assert spec["securityContext"]["runAsUser"] == 10001
        (container,) = spec["containers"]
        mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]]


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_autoscalers_and_budgets_cover_the_right_deployments(overlays, overlay):
    documents = overlays[overlay]
    deployments = _objects(documents, "Deployment")
    autoscalers = _objects(documents, "HorizontalPodAutoscaler")
    assert set(autoscalers) == {"gateway", "catalog", "favorites", "assistant"}
    for name, autoscaler in autoscalers.items():
        assert autoscaler["apiVersion"] == "autoscaling/v2"
        assert autoscaler["spec"]["scaleTargetRef"]["name"] == name
        # A fixed count would fight the autoscaler on every apply.
        assert "replicas" not in deployments[name]["spec"]
        assert autoscaler["spec"]["minReplicas"] <= autoscaler["spec"]["maxReplicas"]
    budgets = _objects(documents, "PodDisruptionBudget")
    for name in (*PACKAGES, *WORKERS):
        assert budgets[name]["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": name}


def test_prod_runs_more_replicas_than_dev(overlays):
    def minimum(overlay, name):
        return _objects(overlays[overlay], "HorizontalPodAutoscaler")[name]["spec"]["minReplicas"]

    for name in ("gateway", "catalog", "favorites", "assistant"):
        assert minimum("prod", name) > minimum("dev", name)
    for name in ("auth", *WORKERS):
        fixed = {o: _objects(overlays[o], "Deployment")[name]["spec"]["replicas"] for o in overlays}
        assert fixed["prod"] > fixed["dev"], name


def _pod_labels(documents: list[dict]) -> dict[str, dict]:
    """Each workload's pod labels, by its app.kubernetes.io/name."""
    labels = {}
    for doc in documents:
        if doc["kind"] in {"Deployment", "StatefulSet", "Job"}:
            pod = doc["spec"]["template"]["metadata"]["labels"]
            labels[pod["app.kubernetes.io/name"]] = pod
    return labels


def _allowed_sources(
    policies: dict, target: dict, port: int | None, named_ports: frozenset = frozenset({"http"})
) -> set[str]:
    """Which app pods, or namespaces, may open connections to the pod labelled `target` on
    `port`, or on any port when None (a named port counts only if the pod has it)."""
    sources = set()
    for policy in policies.values():
        spec = policy["spec"]
        if "Ingress" not in spec["policyTypes"] or not _selects(spec["podSelector"], target):
            continue
        for rule in spec.get("ingress", []):
            ports = [p["port"] for p in rule.get("ports", [])]
            if port is None:
                if ports and all(isinstance(p, str) and p not in named_ports for p in ports):
                    continue
            elif not any(p in (port, *named_ports) for p in ports):
                continue
            for peer in rule.get("from", []):
                if "podSelector" in peer and "namespaceSelector" not in peer:
                    sources |= _names(peer["podSelector"])
                elif "namespaceSelector" in peer:
                    namespace = peer["namespaceSelector"]["matchLabels"]
                    sources.add("ns:" + namespace["kubernetes.io/metadata.name"])
    return sources


def _selects(selector: dict, labels: dict) -> bool:
    if not selector:
        return True
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    return all(
        expression["operator"] == "In" and labels.get(expression["key"]) in expression["values"]
        for expression in selector.get("matchExpressions", [])
    )


def _names(selector: dict) -> set[str]:
    """The app names a peer's podSelector picks (by matchLabels or an In expression)."""
    if "app.kubernetes.io/name" in selector.get("matchLabels", {}):
        return {selector["matchLabels"]["app.kubernetes.io/name"]}
    (expression,) = selector["matchExpressions"]
    assert expression["key"] == "app.kubernetes.io/name" and expression["operator"] == "In"
    return set(expression["values"])


def _allowed_destinations(policies: dict, source: dict) -> set[tuple[str, int]]:
    """Where the pod labelled `source` may open connections: (app name or cidr:..., port)."""
    allowed = set()
    for policy in policies.values():
        spec = policy["spec"]
        if "Egress" not in spec["policyTypes"] or not _selects(spec["podSelector"], source):
            continue
        for rule in spec.get("egress", []):
            for peer in rule.get("to", []):
                if "ipBlock" in peer:
                    where = "cidr:" + peer["ipBlock"]["cidr"]
                elif "namespaceSelector" in peer:
                    continue  # DNS
                else:
                    where = peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                allowed |= {(where, p["port"]) for p in rule.get("ports", [])}
    return allowed


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_network_policies_allow_only_the_designed_calls(overlays, overlay):
    policies = _objects(overlays[overlay], "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny

    labels = _pod_labels(overlays[overlay])

    def callers(name, port=None):
        return _allowed_sources(policies, labels[name], port or DEFAULT_PORTS[name])

    assert callers("gateway") == {"ns:ingress-nginx", "ns:monitoring"}
    assert callers("catalog") == {
        "gateway", "favorites", "assistant", "assistant-worker", "ns:monitoring"
    }  # fmt: skip
    assert callers("favorites") == {"gateway", "ns:monitoring"}
    assert callers("auth") == {"gateway", "catalog", "favorites", "assistant", "ns:monitoring"}
    assert callers("assistant") == {"gateway", "ns:monitoring"}
    for worker in WORKERS:  # nothing connects to a worker, on any port
        assert _allowed_sources(policies, labels[worker], None, frozenset()) == set()

    def reaches(name):
        return _allowed_destinations(policies, labels[name])

    database_clients = {"catalog", "catalog-worker", "favorites", "auth", "auth-worker",
                        "assistant", "assistant-worker"}  # fmt: skip
    if overlay == "dev":
        assert callers("postgres", 5432) == database_clients
        assert callers("redis", 6379) == database_clients - {"favorites"}
        assert callers("minio", 9000) == {"catalog", "catalog-worker", "minio-bucket"}
        assert reaches("minio-bucket") == {("minio", 9000)}
        database, queue, object_store = ("postgres", 5432), ("redis", 6379), ("minio", 9000)
    else:
        database, queue = ("cidr:10.0.0.0/8", 5432), ("cidr:10.0.0.0/8", 6379)
        object_store = ("cidr:0.0.0.0/0", 443)
    internet = ("cidr:0.0.0.0/0", 443)
    smtp = {("cidr:0.0.0.0/0", 587), ("cidr:0.0.0.0/0", 465)}  # submission, implicit TLS
    # A worker reaches its service's datastores and what its tasks need, and nothing else: the
    # object store (catalog), or the catalog and the model provider (assistant).
    designed = {
        "catalog-worker": {database, queue, object_store},
        "assistant-worker": {database, queue, ("catalog", 8001), internet},
        "auth-worker": {database, queue, *smtp},
    }
    assert set(designed) == set(WORKERS)
    for worker, (service, _command) in WORKERS.items():
        assert reaches(worker) == designed[worker], worker
        assert designed[worker] - smtp <= reaches(service), worker
    assert reaches("assistant") == designed["assistant-worker"] | {("auth", 8003)}
    for name in ("gateway", "favorites"):
        assert not {port for _where, port in reaches(name)} & {9000, 443}, name
    assert not {port for _where, port in reaches("auth")} & {9000}
    # The internet (HTTPS): the model provider's clients, auth for the sign-in provider, and in
    # prod the catalog's S3.
    leaving = {name for name in labels if internet in reaches(name)}
    s3_clients = {"catalog", *_workers_of("catalog")} if overlay == "prod" else set()
    assert leaving == MODEL_PROVIDER_CLIENTS | IDENTITY_PROVIDER_CLIENTS | s3_clients


def test_ingress_reaches_only_the_gateway(overlays):
    for overlay in overlays.values():
        (ingress,) = _objects(overlay, "Ingress").values()
        backends = {
            path["backend"]["service"]["name"]
            for rule in ingress["spec"]["rules"]
            for path in rule["http"]["paths"]
        }
        assert backends == {"gateway"}


# --- Dockerfile -------------------------------------------------------------------------------


@pytest.mark.parametrize("service", PACKAGES)
def test_compose_builds_each_image_from_the_one_dockerfile(service):
    package = PACKAGES[service]
    assert build_args(service) == {"SERVICE": package, "PORT": str(DEFAULT_PORTS[service])}


@pytest.mark.parametrize("service", PACKAGES)
def test_each_image_holds_only_the_shared_library_and_its_own_package(service):
    package = PACKAGES[service]
    final = final_stage(service)
    assert final[0] == "FROM python:3.11-slim-bookworm"
    copies = [line.split()[1:] for line in final if line.startswith("COPY ")]
    sources = [parts[0] for parts in copies if not parts[0].startswith("--from=")]
    assert sources == ["service_kit/", f"{package}/", "deploy/gunicorn.conf.py"]
    assert ["--from=builder", "/opt/venv", "/opt/venv"] in copies
    assert "USER 10001:10001" in final
    assert f"EXPOSE {DEFAULT_PORTS[service]}" in final
    assert f"PORT={DEFAULT_PORTS[service]}" in " ".join(final)
    assert image_command(service) == [
        "gunicorn", "--config", "/app/gunicorn.conf.py", "--no-control-socket",
        f"{package}:create_app()",
    ]  # fmt: skip
    tops = {path.split("/")[0] for path in image_files(service)}
    assert tops == {"service_kit", package, "gunicorn.conf.py"}


_TEST_FILE = re.compile(r"(^|/)(conftest\.py|testing\.py|test_[^/]*\.py|[^/]*_test\.py)$")
_TEST_IMPORT = re.compile(r"^\s*(from|import)\s+(tests|pytest|_pytest)\b", re.MULTILINE)


@pytest.mark.parametrize("service", PACKAGES)
def test_no_image_contains_test_code(service):
    """Test helpers live in tests/support (databases, processes, tokens): none of them, nothing
    else under tests/, and nothing that imports them or pytest, is in an image."""
    files = image_files(service)
    assert len(files) > 10  # the list is real
    sources = {path.relative_to(REPO_ROOT).as_posix() for path in files.values()}
    assert not [path for path in sources if path.split("/")[0] == "tests"]
    assert not [path for path in files if {"tests", "test", "support"} & set(path.split("/"))]
    assert not [path for path in files if _TEST_FILE.search(path)]
    helpers = {path.name for path in (REPO_ROOT / "tests" / "support").glob("*.py")}
    assert {"databases.py", "processes.py", "tokens.py"} <= helpers
    for inside, path in files.items():
        if path.suffix == ".py":
            assert not _TEST_IMPORT.search(path.read_text()), inside
