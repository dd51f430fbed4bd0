"""The images as the Dockerfile and docker-compose.yml define them, read without a Docker engine:
one Dockerfile for every service, its build arguments (the service's package and port) from
compose's `build:` entries, and the build context filtered by .dockerignore."""

import json
import os
import re
import shlex
from pathlib import Path, PurePosixPath

import yaml

from service_kit.config import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
# The image of each service: compose's service name -> its Python package.
PACKAGES = {
    "gateway": "gateway",
    "catalog": "catalog_service",
    "favorites": "favorites_service",
    "auth": "auth_service",
    "assistant": "assistant_service",
}
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def build_args(service: str) -> dict[str, str]:
    """The build arguments compose passes for `service` (anchors and merges resolved)."""
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    build = compose["services"][service]["build"]
    assert build["context"] == "." and build.get("dockerfile", "Dockerfile") == "Dockerfile"
    return {name: str(value) for name, value in build["args"].items()}


def _instructions() -> list[str]:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def _expand(text: str, values: dict[str, str]) -> str:
    return _VARIABLE.sub(lambda m: values.get(m[1] or m[2], ""), text)


def final_stage(service: str) -> list[str]:
    """The runtime stage's instructions with the service's build arguments (and the ENV values
    set before each line) substituted, as Docker substitutes them in ARG, ENV, COPY and EXPOSE."""
    instructions = _instructions()
    stages = [i for i, line in enumerate(instructions) if line.startswith("FROM ")]
    assert len(stages) == 2, "a builder stage and a runtime stage"
    given, values, result = build_args(service), {}, []
    for line in instructions[stages[-1] :]:
        keyword, _, rest = line.partition(" ")
        if keyword in {"ENV", "COPY", "EXPOSE", "USER", "WORKDIR"}:
            line = _expand(line, values)  # with the values from before this line
        if keyword == "ARG":
            name, _, default = rest.partition("=")
            values[name] = given.get(name, default)
        elif keyword == "ENV":
            values.update(assignment.split("=", 1) for assignment in shlex.split(line[4:]))
        result.append(line)
    return result


def image_env(service: str) -> dict[str, str]:
    """The environment the image's ENV instructions set."""
    env = {}
    for line in final_stage(service):
        if line.startswith("ENV "):
            env.update(assignment.split("=", 1) for assignment in shlex.split(line[4:]))
    return env


def image_command(service: str) -> list[str]:
    """The image's CMD as the process it starts: a `sh -c "exec ..."` form is expanded as the
    shell would expand it with the image's environment."""
    (command,) = [json.loads(line[4:]) for line in final_stage(service) if line.startswith("CMD ")]
    if command[:2] == ["/bin/sh", "-c"]:
        words = shlex.split(_expand(command[2], image_env(service)))
        assert words[0] == "exec", "the shell hands PID 1 (and SIGTERM) to the service"
        command = words[1:]
    return command


def _ignore_patterns() -> list[tuple[re.Pattern, bool]]:
    """.dockerignore as (pattern, excludes) pairs, in order: the last one matching decides."""
    patterns = []
    for line in (REPO_ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        regex = ""
        for part in re.split(r"(\*\*/|\*\*|\*|\?|\[[^\]]*\])", pattern):
            if part == "**/":
                regex += "(?:.*/)?"
            elif part == "**":
                regex += ".*"
            elif part == "*":
                regex += "[^/]*"
            elif part == "?":
                regex += "[^/]"
            elif part.startswith("["):
                regex += part
            else:
                regex += re.escape(part)
        patterns.append((re.compile(regex), not keep))
    return patterns


def in_build_context(path: str) -> bool:
    """Whether Docker sends `path` (relative to the repository) with the build context: a
    pattern matches a file or any folder above it, as Docker's own matcher does."""
    parts = PurePosixPath(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for regex, excludes in _ignore_patterns():
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            excluded = excludes
    return not excluded


def image_files(service: str) -> dict[str, Path]:
    """Every file the runtime stage copies from the build context: its path under /app (the
    WORKDIR) -> the file in the repository."""
    files = {}
    for line in final_stage(service):
        parts = line.split()
        if parts[0] != "COPY" or parts[1].startswith("--from="):
            continue
        (source, target) = parts[1:]
        root = REPO_ROOT / source
        sources = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in sources:
            relative = path.relative_to(REPO_ROOT).as_posix()
            if not in_build_context(relative):
                continue
            inside = Path(target) / path.relative_to(root) if root.is_dir() else Path(target)
            files[inside.as_posix()] = path
    return files
