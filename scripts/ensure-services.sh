#!/usr/bin/env bash
# Make sure the PostgreSQL server the test suite uses (127.0.0.1:5432) is answering; start the
# machine's cluster if it is not. Safe to run when it is already up.
set -u
pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
if command -v pg_isready >/dev/null 2>&1 && pg_up; then exit 0; fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  echo "PostgreSQL is not answering; starting it" >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  for _ in $(seq 1 30); do pg_up && exit 0; sleep 1; done
fi
echo "warning: PostgreSQL is not reachable at 127.0.0.1:5432; PostgreSQL tests will fail" >&2
exit 0
