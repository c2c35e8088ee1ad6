#!/usr/bin/env bash
# End-to-end proof of the image (`make docker-test`): build it, run the app and the worker containers on
# the host network against this machine's PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) and
# the two simulators, then check login, account creation through the API, the synced volume against
# the simulators' truth, the worker's health check, and that a restart keeps the data and the login.
#
# It starts dockerd only when none runs (--bridge=none --iptables=false: host networking only), and on
# exit stops only what it started: its compose project (containers, volume), its simulators, its
# database, and dockerd if it started it. Every wait is bounded.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
PY="${PY:-$REPO/.venv/bin/python}"
PG_HOST=127.0.0.1 PG_PORT=5432 PG_USER="${PERPVOL_SMOKE_PG_USER:-postgres}"
REDIS_URL_BASE="redis://127.0.0.1:6379"
RUN_ID="$(date +%s)-$$"
PROJECT="perpvol-smoke-$$"
WORK="$(mktemp -d /tmp/perpvol-smoke.XXXXXX)"
DB="perpvol_docker_smoke_$$"
started_dockerd="" sims_pid="" db_created="" compose_up=""

say() { printf '[smoke] %s\n' "$*"; }
die() { say "FAILED: $*"; exit 1; }

# -- compose client: the v2 plugin when present, else Debian's docker-compose 1.29 ------------------------
if docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose); else COMPOSE=(docker-compose); fi
# `up` runs from the rendered main file + compose.test.yml minus the published ports (Compose 1.29
# cannot drop them in an override, and a host-network container refuses them).
DC=("${COMPOSE[@]}" -p "$PROJECT" --project-directory "$REPO" -f "$WORK/compose.rendered.yml")
compose() { "${DC[@]}" "$@"; }
# a bounded compose command whose output is shown only when it fails
dc() { local secs=$1; shift; timeout "$secs" "${DC[@]}" "$@" >"$WORK/compose.out" 2>&1 || { cat "$WORK/compose.out"; return 1; }; }

cleanup() {
  local rc=$?
  set +e
  if [[ -n "$compose_up" ]]; then
    if [[ $rc != 0 ]]; then
      for svc in app worker; do say "last log lines of $svc:"; compose logs --no-color --tail=40 "$svc" 2>&1 | sed 's/^/    /'; done
    fi
    timeout 120 "${DC[@]}" down -v --remove-orphans >/dev/null 2>&1
  fi
  [[ -n "$sims_pid" ]] && kill "$sims_pid" 2>/dev/null && wait "$sims_pid" 2>/dev/null
  [[ -n "$db_created" ]] && psql -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres \
    -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
  if [[ -n "$started_dockerd" ]]; then
    kill "$started_dockerd" 2>/dev/null
    timeout 60 tail --pid="$started_dockerd" -f /dev/null 2>/dev/null
  fi
  rm -rf "$WORK"
  if [[ $rc == 0 ]]; then say "PASSED"; else say "exit $rc"; fi
}
trap cleanup EXIT

# -- dockerd (only if none runs) --------------------------------------------------------------------------
# Installed first when missing (scripts/ensure-docker.sh: Debian docker.io), as `make test` installs chromium.
if ! docker info >/dev/null 2>&1; then
  bash scripts/ensure-docker.sh || die "no Docker engine (dockerd) and it could not be installed"
  say "starting dockerd (--bridge=none --iptables=false)"
  dockerd --bridge=none --iptables=false --ip6tables=false >"$WORK/dockerd.log" 2>&1 &
  started_dockerd=$!
  # bounded wait for its socket to answer (or for it to exit)
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$started_dockerd" 2>/dev/null || break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { tail -20 "$WORK/dockerd.log"; die "dockerd did not start"; }
fi

# -- images: the local Debian base once, then perpvol -------------------------------------------------------
export PERPVOL_BASE_IMAGE="${PERPVOL_BASE_IMAGE:-local/debian:bookworm}"
export PERPVOL_IMAGE="${PERPVOL_IMAGE:-perpvol:smoke}"
bash scripts/docker-base.sh
# Locally added CAs (e.g. a TLS-intercepting egress proxy) for pip in the build stage only.
PERPVOL_EXTRA_CA_CERTS="$(cat /usr/local/share/ca-certificates/*.crt 2>/dev/null || true)"
export PERPVOL_EXTRA_CA_CERTS

# -- the test environment ------------------------------------------------------------------------------------
free_port() { "$PY" -c "from perpvol_sim.server import free_port; print(free_port())"; }
export PERPVOL_TEST_PORT="$(free_port)"
export PERPVOL_TEST_DATABASE_URL="postgresql+psycopg://$PG_USER@$PG_HOST:$PG_PORT/$DB"
export PERPVOL_TEST_REDIS_URL="$REDIS_URL_BASE/${PERPVOL_SMOKE_REDIS_DB:-14}"
export PERPVOL_TEST_SECRETS="$WORK/secrets"
# Fresh values for this run, as a user puts them in .env (POSTGRES_PASSWORD is unused: trust auth).
token() { "$PY" -c "import secrets; print(secrets.token_hex(24))"; }
# the dashboard password mixed-case with punctuation: it must work exactly as typed (no case folding)
export POSTGRES_PASSWORD="$(token)" PERPVOL_PASSWORD="Pv-$(token | cut -c1-20)-Gold.K" PERPVOL_API_TOKEN="$(token)"
# The master key exactly as the README says: 0600, owned by the container user.
mkdir -m 700 "$PERPVOL_TEST_SECRETS"
"$PY" -c "import base64, os; print(base64.b64encode(os.urandom(32)).decode())" >"$PERPVOL_TEST_SECRETS/master.key"
chmod 600 "$PERPVOL_TEST_SECRETS/master.key"
chown 10001:10001 "$PERPVOL_TEST_SECRETS/master.key"

say "compose client: ${COMPOSE[*]} ($("${COMPOSE[@]}" version --short 2>/dev/null || true))"
"${COMPOSE[@]}" -p "$PROJECT" -f docker-compose.yml -f compose.test.yml config >"$WORK/compose.rendered.yml" \
  || die "compose config"
"$PY" scripts/docker_smoke.py host-only "$WORK/compose.rendered.yml" || die "compose.test.yml is not host-network only"

say "building $PERPVOL_IMAGE on $PERPVOL_BASE_IMAGE"
t0=$(date +%s)
COMPOSE_DOCKER_CLI_BUILD=0 DOCKER_BUILDKIT=0 timeout 1800 "${DC[@]}" build app >"$WORK/build.log" 2>&1 \
  || { tail -40 "$WORK/build.log"; die "image build"; }
say "image built in $(( $(date +%s) - t0 )) s; size $(docker image inspect -f '{{.Size}}' "$PERPVOL_IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"

psql -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -c "CREATE DATABASE $DB" >/dev/null
db_created=1
say "database $DB on $PG_HOST:$PG_PORT; redis db ${PERPVOL_TEST_REDIS_URL##*/}"

"$PY" scripts/docker_smoke.py sims "$WORK" >"$WORK/sims.log" 2>&1 &
sims_pid=$!
for _ in $(seq 120); do [[ -s "$WORK/sims.json" ]] && break; kill -0 "$sims_pid" 2>/dev/null || break; sleep 0.5; done
[[ -s "$WORK/sims.json" ]] || { cat "$WORK/sims.log"; die "simulators did not start"; }
cat "$WORK/sims.log"

# -- containers ------------------------------------------------------------------------------------------------
health() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$(compose ps -q "$1")"; }
wait_healthy() {  # service, seconds
  local status=""
  for _ in $(seq "$2"); do
    status="$(health "$1" 2>/dev/null || echo missing)"
    [[ "$status" == healthy ]] && { say "$1: healthy"; return 0; }
    sleep 1
  done
  die "$1 not healthy after $2 s (status: $status)"
}

compose_up=1
# --no-deps: the host's PostgreSQL and Redis stand in for the stack's; the worker starts after the
# app is healthy (it ran the migrations), as depends_on says in the real stack.
dc 120 up -d --no-deps app || die "compose up app"
wait_healthy app 180
# the worker's health check can fail: with no worker running there is no heartbeat
if compose exec -T app perpvol worker --check; then die "worker --check passed with no worker running"; fi
say "worker --check: unhealthy while no worker runs"
dc 120 up -d --no-deps worker || die "compose up worker"
wait_healthy worker 120
[[ -z "$(docker network ls -q --filter "label=com.docker.compose.project=$PROJECT")" ]] || die "a compose network was created"

BASE="http://127.0.0.1:$PERPVOL_TEST_PORT"
"$PY" scripts/docker_smoke.py check "$WORK" --base "$BASE" --phase first || die "checks before the restart"

say "restarting both containers"
dc 120 restart app worker || die "compose restart"
wait_healthy app 180
wait_healthy worker 120
"$PY" scripts/docker_smoke.py check "$WORK" --base "$BASE" --phase restart || die "checks after the restart"

say "all checks passed (run $RUN_ID)"
