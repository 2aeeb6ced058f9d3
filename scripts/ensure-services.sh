#!/usr/bin/env bash
# Make sure the machine's PostgreSQL is running; start it with the machine's own
# command if it is not. (Tests start their own private Mosquitto with the
# project's configuration, but the binary must be installed.)
set -euo pipefail

if ! command -v mosquitto >/dev/null 2>&1; then
  echo "installing mosquitto (Debian package)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto mosquitto-clients >/dev/null
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "starting PostgreSQL" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 >/dev/null || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }

if ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
  echo "starting the machine's Mosquitto" >&2
  mosquitto -d -c /etc/mosquitto/mosquitto.conf || true
fi
