"""The two programs the benchmark drives, installed from Debian's packages when missing."""

import os
import shutil
import subprocess

# program -> Debian package
PROGRAMS = {"wrk": "wrk", "nginx": "nginx"}
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin", "/sbin"])


def which(program: str) -> str | None:
    return shutil.which(program, path=SEARCH_PATH)


def ensure_programs() -> dict[str, str]:
    """Paths of wrk and nginx; apt-get installs what is missing (refreshing the package lists
    once if the first attempt fails)."""
    missing = [package for program, package in PROGRAMS.items() if which(program) is None]
    if missing:
        install = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        print(f"installing {' '.join(missing)} (apt-get)", flush=True)
        if subprocess.run(install, env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=True)
            subprocess.run(install, env=env, capture_output=True, check=True)
    paths = {program: which(program) for program in PROGRAMS}
    absent = [program for program, path in paths.items() if path is None]
    if absent:
        raise RuntimeError(f"could not install {', '.join(absent)}")
    return paths  # type: ignore[return-value]
