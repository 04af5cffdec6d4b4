#!/usr/bin/env bash
# `make run`: Redis (our own, on a free port, unless LOA_REDIS_URL is set), migrations, demo
# data once, the web app (gunicorn) and one RQ worker with the scheduler. Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
# Everything Loa writes here (the database and its WAL, logs, Redis's files, secrets) is 0600 in
# a 0700 var/: tips and phone numbers are readable by this user only.
umask 077
mkdir -p -m 700 var && chmod -R go= var  # also what an older Loa left readable
mkdir -p var/redis var/log
port=${LOA_PORT:-5000}
pids=()

# Every process starts in a session of its own (setsid): Ctrl-C then reaches this script only,
# which says "stopping Loa…" and stops each process group (gunicorn's workers and RQ's work
# horses with their parents). Were the children in the terminal's group, Ctrl-C would reach
# them too, one would exit first and this script would report it as a crash.
stop() {
  trap - INT TERM EXIT
  echo; echo "stopping Loa…"
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT TERM

free_port() { "$VENV/bin/python" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

if [ -z "${LOA_REDIS_URL:-}" ]; then
  rport=$(free_port)
  # A password generated once into var/redis.pass (0600): whoever reaches Redis can queue work.
  # The config goes in on stdin, so the password is in no command line that `ps` shows.
  rpass=$("$VENV/bin/python" -m gateway.var secret var/redis.pass)
  printf '%s\n' "port $rport" "bind 127.0.0.1" "dir \"$PWD/var/redis\"" "appendonly yes" \
    "save 60 1" "protected-mode yes" "requirepass $rpass" |
    setsid redis-server - >var/log/redis.log 2>&1 &
  pids+=($!)
  export LOA_REDIS_URL="redis://:$rpass@127.0.0.1:$rport/0"
  for _ in $(seq 100); do
    "$VENV/bin/python" -c "import os, redis; redis.Redis.from_url(os.environ['LOA_REDIS_URL']).ping()" 2>/dev/null && break
    sleep 0.1
  done
fi
export LOA_PUBLIC_BASE_URL=${LOA_PUBLIC_BASE_URL:-http://127.0.0.1:$port}

"$VENV/bin/loa" db upgrade
"$VENV/bin/loa" demo

# --timeout 120: the longest request stores a 64 MB contact file in SQL (a worker imports it).
# --threads 1: a request's time is Python and SQLite's one writer, which threads only take turns
# at; tips through gunicorn on 2 cores (BENCHMARKS.md, inbound): 566-629 req/s, p99 9-14 ms at
# 80 % of that with one thread a process, 438-466 req/s, p99 22-28 ms with 2 or 4.
# The access log leaves out query strings: inbox searches and the simulator's number are in them.
setsid "$VENV/bin/gunicorn" --bind "127.0.0.1:$port" --workers 2 --threads 1 --timeout 120 --access-logfile - \
  --access-logformat '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms' \
  --error-logfile - wsgi:app >var/log/web.log 2>&1 &
pids+=($!)
# Two lanes (invariant 11): replies to tipsters, staff alerts and the urgency clock never wait
# behind a broadcast, whose batches wait for rate tokens on their own worker.
setsid "$VENV/bin/loa" worker --queues replies,events >var/log/worker.log 2>&1 &
pids+=($!)
setsid "$VENV/bin/loa" worker --queues bulk >var/log/worker-bulk.log 2>&1 &
pids+=($!)

# With SMPP configured (LOA_SMPP_HOST, in the environment or .env), hold the bind(s) too.
smpp_mode=$("$VENV/bin/python" -c 'from gateway.settings import load_settings as l; s = l(); print(s.smpp_bind_mode if s.smpp_host else "")')
case "$smpp_mode" in
  transceiver)
    setsid "$VENV/bin/loa" smpp --mode transceiver >var/log/smpp.log 2>&1 &
    pids+=($!) ;;
  transmitter_receiver)
    setsid "$VENV/bin/loa" smpp --mode transmitter >var/log/smpp-tx.log 2>&1 &
    pids+=($!)
    setsid "$VENV/bin/loa" smpp --mode receiver >var/log/smpp-rx.log 2>&1 &
    pids+=($!) ;;
esac

for _ in $(seq 150); do
  "$VENV/bin/python" -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/healthz', timeout=1)" 2>/dev/null && break
  sleep 0.2
done
cat <<MSG

  Loa is running: http://127.0.0.1:$port/  (log in with an account above)
  Citizen phone simulator: http://127.0.0.1:$port/simulator · public tip form: http://127.0.0.1:$port/bao-tin
  Logs: var/log/{web,worker,redis}.log · Ctrl-C stops everything.

MSG
status=0
wait -n "${pids[@]}" || status=$?
echo "a Loa process exited by itself (status $status); see var/log/" >&2
