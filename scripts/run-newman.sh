#!/usr/bin/env bash
# Runs the Postman collection (docs/postman) with newman against the whole portal as real
# processes: the five services under gunicorn, configured as the images configure them
# (deploy/gunicorn.conf.py), on fresh databases, with demo data and an admin and a teacher.
# Everything it starts is stopped again, whatever the outcome; the exit status is newman's.
#
#   scripts/run-newman.sh                  # SQLite databases in a temporary directory
#   NEWMAN_BASE_PORT=19000 scripts/run-newman.sh
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-.venv/bin/python}"
base_port="${NEWMAN_BASE_PORT:-18000}"
work="$(mktemp -d)"
pids=()

stop_all() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap stop_all EXIT

declare -A port=(
  [gateway]=$base_port [catalog]=$((base_port + 1))
  [favorites]=$((base_port + 2)) [auth]=$((base_port + 3))
  [assistant]=$((base_port + 4))
)
oidc_port=$((base_port + 5))
declare -A package=(
  [gateway]=gateway [catalog]=catalog_service
  [favorites]=favorites_service [auth]=auth_service
  [assistant]=assistant_service
)

export VAR_DIR="$work/var"
export JWT_PRIVATE_KEY_FILE="$work/jwt-private.pem"
export CATALOG_URL="http://127.0.0.1:${port[catalog]}"
export FAVORITES_URL="http://127.0.0.1:${port[favorites]}"
export AUTH_URL="http://127.0.0.1:${port[auth]}"
export ASSISTANT_URL="http://127.0.0.1:${port[assistant]}"
export AUTH_JWKS_URL="$AUTH_URL/.well-known/jwks.json"
export LOG_LEVEL=WARNING GUNICORN_WORKERS=2
# No model provider: the assistant's generation answers 409, everything else works.
unset REDIS_URL DATABASE_URL OPENAI_API_KEY OPENAI_BASE_URL
# Sign-in with the university account: a real OpenID Connect provider (the tests' one).
export PUBLIC_BASE_URL="http://127.0.0.1:${port[gateway]}"
export OIDC_ISSUER="http://127.0.0.1:$oidc_port" OIDC_CLIENT_ID=course-portal
export OIDC_CLIENT_SECRET=newman-secret OIDC_STATE_SECRET="newman-$RANDOM-$RANDOM-0123456789abcdef"
export OIDC_ROLE_CLAIM=groups OIDC_ROLE_MAP=teachers=teacher

database() { echo "sqlite:///$work/$1.db"; }

echo "run-newman: preparing databases and accounts in $work"
for service in catalog favorites auth assistant; do
  DATABASE_URL="$(database "$service")" "$python" -m "${package[$service]}" migrate >/dev/null
done
DATABASE_URL="$(database auth)" "$python" -m auth_service create-key >/dev/null
DATABASE_URL="$(database catalog)" "$python" -m catalog_service seed-demo >/dev/null

admin_email="newman-admin@example.edu" admin_password="admin-$RANDOM-$RANDOM"
teacher_email="newman-teacher@example.edu" teacher_password="teacher-$RANDOM-$RANDOM"
DATABASE_URL="$(database auth)" "$python" -m auth_service create-user \
  --email "$admin_email" --password "$admin_password" --role admin >/dev/null
DATABASE_URL="$(database auth)" "$python" -m auth_service create-user \
  --email "$teacher_email" --password "$teacher_password" --role teacher >/dev/null

"$python" -m oidc_provider_mock --port "$oidc_port" --require-nonce >"$work/oidc.log" 2>&1 &
pids+=($!)

for service in auth catalog favorites assistant gateway; do
  mkdir -p "$work/metrics-$service"
  DATABASE_URL="$(database "$service")" \
  GUNICORN_BIND="127.0.0.1:${port[$service]}" \
  PROMETHEUS_MULTIPROC_DIR="$work/metrics-$service" \
    "$python" -m gunicorn --config deploy/gunicorn.conf.py --no-control-socket \
      "${package[$service]}:create_app()" >"$work/$service.log" 2>&1 &
  pids+=($!)
done

"$python" - "${port[@]}" <<'PY'
import sys, time, urllib.request
ports = sys.argv[1:]
deadline = time.monotonic() + 60
for port in ports:
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline:
                sys.exit(f"run-newman: the service on port {port} did not become ready")
            time.sleep(0.2)
PY
echo "run-newman: portal ready at http://127.0.0.1:${port[gateway]}"

if [[ ! -x docs/postman/node_modules/.bin/newman ]]; then
  (cd docs/postman && npm ci --no-audit --no-fund --loglevel=error)
fi

status=0
docs/postman/node_modules/.bin/newman run docs/postman/course-portal.postman_collection.json \
  --env-var "baseUrl=http://127.0.0.1:${port[gateway]}" \
  --env-var "adminEmail=$admin_email" --env-var "adminPassword=$admin_password" \
  --env-var "teacherEmail=$teacher_email" --env-var "teacherPassword=$teacher_password" \
  --working-dir "$PWD/docs/postman" --color off --disable-unicode --no-insecure-file-read || status=$?

if [[ $status -ne 0 ]]; then
  for service in gateway catalog favorites auth assistant; do
    echo "--- $service log (last lines)"
    tail -n 20 "$work/$service.log"
  done
fi
exit $status
