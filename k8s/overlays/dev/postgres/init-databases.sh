#!/usr/bin/env bash
# One database and one login role per service, created on the first start of an empty
# PostgreSQL data directory (the official image runs /docker-entrypoint-initdb.d/*.sh then).
# Used by docker-compose.yml and by the dev overlay's StatefulSet alike.
#
# Needs CATALOG_DB_PASSWORD, FAVORITES_DB_PASSWORD, AUTH_DB_PASSWORD and ASSISTANT_DB_PASSWORD in
# the environment.
#
# Only what is missing is created, so a data directory made before a service was added gets that
# service's database by running the script again (the README's Deploy section has the commands);
# existing roles, their passwords and databases are left as they are.
set -euo pipefail

for service in catalog favorites auth assistant; do
  password_variable="${service^^}_DB_PASSWORD"
  password="${!password_variable:?$password_variable is not set}"
  # C.UTF-8, not C: with the C locale lower(), ILIKE and pg_trgm leave Cyrillic unfolded.
  psql --variable=ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    --set=name="$service" --set=password="$password" <<'SQL'
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'name') AS role_missing,
       NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') AS database_missing \gset
\if :role_missing
CREATE ROLE :"name" LOGIN PASSWORD :'password';
\endif
\if :database_missing
CREATE DATABASE :"name" OWNER :"name" TEMPLATE template0 ENCODING 'UTF8'
  LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8';
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
\endif
SQL
done

# pg_trgm serves the catalog's search index; installing it needs more rights than the
# service's own role has.
psql --variable=ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname catalog \
  --command 'CREATE EXTENSION IF NOT EXISTS pg_trgm'
