#!/usr/bin/env bash
# Make PostgreSQL and Redis answer on loopback for the test suite, installing and starting
# them when they are missing or stopped, and install Debian's coturn and chromium for tests.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

# PostgreSQL: trust auth for postgres on 127.0.0.1, database "test".
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  apt_install postgresql postgresql-client
fi
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  for version in $(ls /etc/postgresql 2>/dev/null); do
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 -q || { echo "PostgreSQL is not answering on 127.0.0.1:5432" >&2; exit 1; }
if ! psql -h 127.0.0.1 -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1; then
  echo "PostgreSQL refuses user postgres on 127.0.0.1 without a password; allowing trust on loopback" >&2
  hba=$($SUDO -u postgres psql -tAc 'show hba_file')
  $SUDO sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
  $SUDO -u postgres psql -tAc 'select pg_reload_conf()' >/dev/null
fi
psql -h 127.0.0.1 -U postgres -d postgres -tAc "select 1 from pg_database where datname='test'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -d postgres -qc 'create database test'

# Redis on 127.0.0.1:6379, nothing kept on disk.
if ! command -v redis-server >/dev/null 2>&1; then
  apt_install redis-server
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  $SUDO mkdir -p /var/lib/redis /var/log/redis
  $SUDO redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.5; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || { echo "Redis is not answering on 127.0.0.1:6379" >&2; exit 1; }

# coturn for tests/signaling/test_ice.py (each test starts its own turnserver on loopback). The
# package enables a system-wide coturn with the default configuration: keep that one stopped.
if ! command -v turnserver >/dev/null 2>&1; then
  apt_install coturn
  if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now coturn >/dev/null 2>&1 || true; fi
fi

# Debian's chromium for the browser tests (no browser downloads work in closed networks).
if ! command -v chromium >/dev/null 2>&1; then
  apt_install chromium
fi
echo "services: postgresql ok, redis ok, coturn ok, chromium $(chromium --version 2>/dev/null | awk '{print $2}')"
