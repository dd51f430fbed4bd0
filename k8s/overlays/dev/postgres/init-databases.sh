#!/usr/bin/env bash
# One database and one login role per service, created on the first start of an empty
# PostgreSQL data directory (the official image runs /docker-entrypoint-initdb.d/*.sh then).
# Used by docker-compose.yml and by the dev overlay's StatefulSet alike.
#
# Needs CATALOG_DB_PASSWORD, FAVORITES_DB_PASSWORD and AUTH_DB_PASSWORD in the environment.
set -euo pipefail

for service in catalog favorites auth; do
  password_variable="${service^^}_DB_PASSWORD"
  password="${!password_variable:?$password_variable is not set}"
  # C.UTF-8, not C: with the C locale lower(), ILIKE and pg_trgm leave Cyrillic unfolded.
  psql --variable=ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    --set=name="$service" --set=password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name" TEMPLATE template0 ENCODING 'UTF8'
  LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8';
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
done

# pg_trgm serves the catalog's search index; installing it needs more rights than the
# service's own role has.
psql --variable=ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname catalog \
  --command 'CREATE EXTENSION IF NOT EXISTS pg_trgm'
