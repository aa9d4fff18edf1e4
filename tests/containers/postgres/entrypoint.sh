#!/bin/bash
# The official postgres image's entrypoint, reduced to what deploy/compose.yaml uses of it: on an
# empty PGDATA, a cluster whose superuser is POSTGRES_USER (password POSTGRES_PASSWORD) with the
# database POSTGRES_DB; then the server, as the user postgres, on every address.
set -Eeuo pipefail

first=${1:-}
if [ "${first:0:1}" = - ]; then set -- postgres "$@"; first=postgres; fi
if [ "$first" = postgres ]; then
    if [ "$(id -u)" = 0 ]; then
        # as root: own the volume, then run this script again as postgres
        mkdir -p "$PGDATA" /var/run/postgresql
        chown postgres:postgres "$PGDATA" /var/run/postgresql
        chmod 0700 "$PGDATA"
        exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
    fi
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        if [ -z "${POSTGRES_PASSWORD:-}" ]; then
            echo "error: the database is not initialised and POSTGRES_PASSWORD is not set" >&2
            exit 1
        fi
        user=${POSTGRES_USER:-postgres}
        database=${POSTGRES_DB:-$user}
        initdb --username="$user" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
            --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 \
            -D "$PGDATA" >/dev/null
        printf '\nhost all all all scram-sha-256\n' >> "$PGDATA/pg_hba.conf"
        printf "\nlisten_addresses = '*'\n" >> "$PGDATA/postgresql.conf"
        if [ "$database" != postgres ]; then
            pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w -s start
            psql -v ON_ERROR_STOP=1 -q --username="$user" --dbname=postgres \
                --set=db="$database" <<<'CREATE DATABASE :"db";'
            pg_ctl -D "$PGDATA" -m fast -w -s stop
        fi
        echo "PostgreSQL init process complete; ready for start up."
    fi
fi
exec "$@"
