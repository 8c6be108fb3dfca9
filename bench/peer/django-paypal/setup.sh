#!/usr/bin/env bash
# Build the django-paypal 2.1 peer: venv under /tmp, Django project migrated on SQLite.
# Idempotent. Env: PEER_HOME (default /tmp/dpp-peer), PYTHON (default python3).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PEER_HOME="${PEER_HOME:-/tmp/dpp-peer}"
PY="${PYTHON:-python3}"
VENV="$PEER_HOME/venv"

mkdir -p "$PEER_HOME"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --upgrade pip
# django-paypal 2.1 declares Django>=2.2 and is CI-tested up to Django 5.0;
# we use the 5.2 LTS line (its own test suite passes on it).
"$VENV/bin/pip" install -q "django-paypal==2.1" "Django>=5.2,<5.3" "gunicorn>=22"
"$VENV/bin/pip" freeze > "$PEER_HOME/freeze.txt"

cd "$HERE/peer"
"$VENV/bin/python" manage.py migrate --noinput -v 0
"$VENV/bin/python" manage.py check
echo "setup done: venv=$VENV db=$PEER_HOME/db.sqlite3"
grep -iE '^(django|django-paypal|gunicorn|requests)==' "$PEER_HOME/freeze.txt"
