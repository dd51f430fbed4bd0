#!/usr/bin/env bash
# Creates the RS256 signing key for docker compose (var/jwt-private.pem, or the path given),
# unless it exists, and makes it readable by the containers' user (uid 10001).
# For Kubernetes, put the same file into the jwt-signing-key Secret (README, Deploy).
set -euo pipefail
cd "$(dirname "$0")/.."

key="${1:-${JWT_PRIVATE_KEY_PATH:-var/jwt-private.pem}}"
mkdir -p "$(dirname "$key")"
if [[ ! -s "$key" ]]; then
  (umask 077 && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$key" 2>/dev/null)
  echo "created $key"
fi

# Compose bind-mounts secret files unchanged, owner and mode included.
if [[ "$(id -u)" == 0 ]]; then
  chown 10001:10001 "$key" && chmod 0400 "$key"
else
  chmod 0644 "$key"
  echo "note: $key is readable by every local user; as root it would belong to uid 10001 only"
fi
