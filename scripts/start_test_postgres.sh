#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on 127.0.0.1 for the multi-worker tuning test, as an unprivileged user,
# installing Debian's postgresql package first if it is missing. Prints the SQLAlchemy URL on stdout; the server
# and its data folder are removed by `scripts/start_test_postgres.sh stop DATADIR`.
set -euo pipefail
if [ "${1:-}" = "stop" ]; then
  DATADIR="$2"
  PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D $DATADIR stop -m fast" >/dev/null 2>&1 || true
  else "$PGBIN/pg_ctl" -D "$DATADIR" stop -m fast >/dev/null 2>&1 || true; fi
  rm -rf "$DATADIR"
  exit 0
fi
if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2
  else
    echo "PostgreSQL is not installed and this user cannot install it" >&2; exit 1
  fi
fi
PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
PORT="${GNN_DRUG_TEST_PG_PORT:-55432}"
DATADIR="$(mktemp -d /tmp/gnn-drug-pg.XXXXXX)"
if [ "$(id -u)" = 0 ]; then
  chown postgres "$DATADIR"
  RUN=(su postgres -s /bin/sh -c)
else
  RUN=(sh -c)
fi
"${RUN[@]}" "$PGBIN/initdb -D $DATADIR -A trust -U gnn_drug >/dev/null"
"${RUN[@]}" "$PGBIN/pg_ctl -D $DATADIR -o '-h 127.0.0.1 -p $PORT -k $DATADIR' -l $DATADIR/server.log -w start >/dev/null"
"$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U gnn_drug -d postgres -qc "CREATE DATABASE optuna_test" >/dev/null
echo "postgresql+psycopg2://gnn_drug@127.0.0.1:$PORT/optuna_test $DATADIR"
