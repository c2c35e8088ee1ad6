"""Deployment files: the Dockerfile, the compose files and environment.yml agree with the project.

The image itself is built and run end to end by ``scripts/docker-smoke.sh`` (``make docker-test``,
minutes); these fast tests check what can be checked without an engine: the compose files validate
(``docker compose config`` / ``docker-compose config`` when a client is installed, and always
structurally with PyYAML), they name only files and ``perpvol`` subcommands that exist, every secret is
required and none is written in them or baked into the image, the Dockerfile caches its dependency
layer, installs the package without ``-e`` and runs as a non-root user, and the exact commands the
containers run start here and pass their health checks (the image's HEALTHCHECK and the worker's
``perpvol worker --check`` included).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from perpvol_sim.server import free_port
from tests.cli.test_cli_help import parse

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
COMPOSE_TEST = REPO / "compose.test.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
ENV_YML = REPO / "environment.yml"
PERPVOL = Path(sys.executable).parent / "perpvol"
SECRET_VAR = re.compile(r"(PASSWORD|TOKEN|SECRET|MASTER_KEY)$")
REQUIRED_VARS = ("POSTGRES_PASSWORD", "PERPVOL_PASSWORD", "PERPVOL_API_TOKEN")
PRIVATE_ADDRESS = re.compile(r"\b(10\.\d+|172\.(1[6-9]|2\d|3[01])|192\.168)\.\d+\.\d+")


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    buf = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.rstrip()
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    return out


def _requirement_name(req: str) -> str:
    return re.split(r"[\[=<>!~ ;]", req, maxsplit=1)[0].lower().replace("_", "-")


# -- environment.yml ------------------------------------------------------------------------------------


def test_environment_yml_pins_exactly_the_lock() -> None:
    """environment.yml is generated from constraints.txt (scripts/gen_environment.py; tests/deploy/test_deps_scripts.py
    shows its --check fails when stale): every pin is the lock's, the whole lock is there, and every package
    pyproject.toml declares, with its extras."""
    env = yaml.safe_load(ENV_YML.read_text())
    project = _pyproject()
    deps = env["dependencies"]
    pythons = [d for d in deps if isinstance(d, str) and d.startswith("python")]
    assert pythons, "environment.yml names no python"
    major_minor = re.search(r"(\d+\.\d+)", project["requires-python"]).group(1)
    assert pythons[0].split("=")[-1].startswith(major_minor)
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    lock = {}
    for line in (REPO / "constraints.txt").read_text().split():
        name, _, version = line.partition("==")
        lock[_requirement_name(name)] = version
    pinned = {}
    for req in (r for r in pip if not r.startswith("-")):
        name, _, version = req.partition("==")
        pinned[_requirement_name(name)] = version
        assert lock.get(_requirement_name(name)) == version, f"{req} is not the lock's pin"
    assert pinned == lock, "environment.yml and constraints.txt pin different packages"
    declared = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    written = {re.split(r"==", r)[0].lower() for r in pip}
    for req in declared:  # each as pyproject names it, extras included (psycopg[binary])
        assert re.split(r"[=<>!~ ;]", req, maxsplit=1)[0].lower() in written, req
        assert not re.search(r"==", req), f"pyproject.toml pins {req}: state a range (the lock is constraints.txt)"
    assert "-e ." in pip  # the project itself


# -- docker-compose.yml ------------------------------------------------------------------------------------


def test_compose_structure() -> None:
    compose = _compose()
    services = compose["services"]
    assert {"app", "worker", "postgres", "redis"} <= set(services)
    # one image, built once (by app) and shared by the worker
    build = services["app"]["build"]
    context = REPO / (build["context"] if isinstance(build, dict) else build)
    dockerfile = build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
    assert (context / dockerfile).resolve() == DOCKERFILE.resolve()
    assert "build" not in services["worker"]
    assert services["worker"]["image"] == services["app"]["image"]
    for name, svc in services.items():  # every container's logs are rotated
        assert svc["logging"]["driver"] == "json-file", name
        assert {"max-size", "max-file"} <= set(svc["logging"]["options"]), name
    for name in ("app", "worker"):
        svc = services[name]
        env = svc["environment"]
        assert "@postgres:" in env["PERPVOL_DATABASE_URL"] and env["PERPVOL_DATABASE_URL"].startswith(
            "postgresql+psycopg://"
        )
        assert env["PERPVOL_REDIS_URL"].startswith("redis://redis:")
        key_file = env["PERPVOL_MASTER_KEY_FILE"]
        assert key_file.startswith("/run/secrets/")
        assert key_file.rsplit("/", 1)[1] in svc["secrets"]
        assert "PERPVOL_MASTER_KEY" not in env  # the key comes from a Docker secret file, never inline
    # postgres keeps its data in a named volume and is healthchecked; the app waits for it
    pg = services["postgres"]
    pg_volume = pg["volumes"][0].split(":")[0]
    assert pg_volume in compose["volumes"]
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    assert services["app"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "redis-cli" in " ".join(services["redis"]["healthcheck"]["test"])
    assert "/api/v1/health" in " ".join(services["app"]["healthcheck"]["test"])
    worker_check = services["worker"]["healthcheck"]["test"]
    assert worker_check[0] == "CMD" and worker_check[1:] == ["perpvol", "worker", "--check"]
    assert parse(worker_check[2:]) == ("worker", {"verbose": False, "check": True})
    assert services["worker"]["depends_on"]["app"]["condition"] == "service_healthy"  # migrations first


def test_compose_requires_every_secret() -> None:
    """No default password or token: each is required, like POSTGRES_PASSWORD (never generated per start)."""
    text = COMPOSE.read_text()
    for var in REQUIRED_VARS:
        assert re.search(r"\$\{" + var + r":\?[^}]+\}", text), f"{var} must be required (${{{var}:?...}})"
        assert not re.search(r"\$\{" + var + r":?-", text), f"{var} must have no default"
    comments = "\n".join(line for line in text.splitlines() if line.lstrip().startswith("#"))
    assert "chmod 644" not in comments and "chmod 600 secrets/master.key" in comments
    uid = _container_uid()  # the container user owns the 0600 key file
    assert f"chown {uid}:{uid} secrets/master.key" in comments


def _container_uid() -> int:
    run = next(a for w, a in _dockerfile_instructions() if w == "RUN" and "useradd" in a)
    return int(re.search(r"--uid (\d+)", run).group(1))


def test_compose_test_override_uses_the_host_network_only() -> None:
    override = yaml.safe_load(COMPOSE_TEST.read_text())
    assert set(override["services"]) <= set(_compose()["services"])
    for name, svc in override["services"].items():
        assert svc["network_mode"] == "host", name  # no bridge, no container address
        assert "networks" not in svc and "ports" not in svc
    assert "networks" not in override
    assert not PRIVATE_ADDRESS.search(COMPOSE_TEST.read_text() + COMPOSE.read_text())
    app = override["services"]["app"]
    assert app["build"]["network"] == "host"
    assert app["command"][app["command"].index("--address") + 1] == "127.0.0.1"


def test_compose_has_no_inline_secrets() -> None:
    compose = _compose()
    for name, svc in compose["services"].items():
        for var, value in (svc.get("environment") or {}).items():
            if SECRET_VAR.search(var):
                assert re.fullmatch(r"\$\{[A-Z_]+(:?[-?][^}]*)?\}", str(value)), f"{name}.{var} is written inline"
            if var == "PERPVOL_DATABASE_URL":
                assert re.search(r":\$\{POSTGRES_PASSWORD[^}]*\}@", value), "database password must be interpolated"
    ignored = DOCKERIGNORE.read_text().split()
    gitignored = (REPO / ".gitignore").read_text().split()
    for secret in compose["secrets"].values():
        path = Path(secret["file"])
        top = path.parts[1] if path.parts[0] == "." else path.parts[0]
        assert f"{top}/" in ignored and f"{top}/" in gitignored, f"{path} must be docker- and git-ignored"
    for pattern in (".env", "secrets/", "*.key", ".venv/", ".git"):
        assert pattern in ignored, f".dockerignore lacks {pattern}"


def test_compose_commands_are_real_perpvol_commands() -> None:
    compose = _compose()
    commands = {name: compose["services"][name]["command"] for name in ("app", "worker")}
    assert commands["app"][0] == "serve" and commands["worker"] == ["worker"]
    path, app_args = parse(commands["app"])
    assert path == "serve" and app_args["address"] == "0.0.0.0" and app_args["port"] == 5006
    assert app_args["no_worker"]  # sync runs once, in the worker service
    cmd_env = _dockerfile_cmd()
    for argv in [*commands.values(), cmd_env]:
        path, _ = parse(argv)  # raises click.UsageError for a command line perpvol would refuse
        assert path in ("serve", "worker"), f"`perpvol {' '.join(argv)}`"


def _compose_client() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_compose_file_validates_with_docker_compose(tmp_path: Path) -> None:
    client = _compose_client()
    if client is None:
        pytest.skip("no compose client (`docker compose` plugin or Debian `docker-compose`); structure tested above")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "PERPVOL_"))}
    values = {var: "x" * 24 for var in REQUIRED_VARS}
    base = [*client, "--project-directory", str(REPO), "-f", str(COMPOSE), "config", "-q"]
    # without any one of the secrets the file refuses to render: no default is baked in
    for var in REQUIRED_VARS:
        partial = {**env, **{k: v for k, v in values.items() if k != var}}
        missing = subprocess.run(base, capture_output=True, text=True, env=partial, cwd=tmp_path)
        assert missing.returncode != 0 and var in (missing.stderr + missing.stdout), var
    ok = subprocess.run(base, capture_output=True, text=True, env={**env, **values}, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    # the smoke script's override renders on top of it with the variables the script sets
    test_env = {**env, **values, "PERPVOL_TEST_PORT": "5199", "PERPVOL_TEST_SECRETS": str(tmp_path),
                "PERPVOL_TEST_DATABASE_URL": "postgresql+psycopg://u@127.0.0.1:5432/d",
                "PERPVOL_TEST_REDIS_URL": "redis://127.0.0.1:6379/14"}  # fmt: skip
    merged = [*client, "--project-directory", str(REPO), "-f", str(COMPOSE), "-f", str(COMPOSE_TEST), "config"]
    out = subprocess.run(merged, capture_output=True, text=True, env=test_env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rendered = yaml.safe_load(out.stdout)
    for name in ("app", "worker"):
        svc = rendered["services"][name]
        assert svc["network_mode"] == "host" and svc["environment"]["PERPVOL_DATABASE_URL"].endswith("127.0.0.1:5432/d")
    assert "127.0.0.1:5199/api/v1/health" in " ".join(rendered["services"]["app"]["healthcheck"]["test"])
    assert rendered["secrets"]["perpvol_master_key"]["file"] == str(tmp_path / "master.key")


# -- Dockerfile -----------------------------------------------------------------------------------------------


def _dockerfile_cmd() -> list[str]:
    instr = dict(_dockerfile_instructions())
    return json.loads(instr["CMD"])


def test_dockerfile_layers_user_and_healthcheck() -> None:
    instr = _dockerfile_instructions()
    words = [w for w, _ in instr]
    # the base is an argument (default the official slim image); build and run stages share it
    base_arg = next(a for w, a in instr if w == "ARG" and a.startswith("BASE_IMAGE="))
    assert re.match(r"python:3\.11(\.\d+)?-slim", base_arg.split("=", 1)[1]), base_arg
    froms = [a for w, a in instr if w == "FROM"]
    assert len(froms) == 2 and all(f.split()[0] == "${BASE_IMAGE}" for f in froms)
    assert words.index("ARG") < words.index("FROM")
    copies = [a for w, a in instr if w == "COPY" and not a.startswith("--from=")]
    # the dependency layer: pins first, dependencies installed, THEN the source
    assert copies[0].split()[:2] == ["pyproject.toml", "constraints.txt"]
    first_install = next(i for i, (w, a) in enumerate(instr) if w == "RUN" and "-c constraints.txt" in a)
    first_source = next(i for i, (w, a) in enumerate(instr) if w == "COPY" and "perpvol_core" in a)
    assert words.index("COPY") < first_install < first_source
    for args in copies:
        for src in args.split()[:-1]:
            if not src.startswith("--"):
                assert (REPO / src).exists(), f"COPY {src}: no such file"
                assert src not in DOCKERIGNORE.read_text().split(), f"COPY {src} is docker-ignored"
    # a regular install of the package, never editable (the image holds no source tree)
    installs = [a for w, a in instr if w == "RUN" and "pip install" in a and "--no-deps" in a]
    assert installs and all(re.search(r"--no-deps(\s+--no-build-isolation)?\s+\.(\s|$)", a) for a in installs)
    assert not any(re.search(r"pip install[^&]*\s-e\s", a) for w, a in instr if w == "RUN")
    user = [a for w, a in instr if w == "USER"]
    assert user and user[-1] not in ("root", "0")
    assert words.index("USER") > first_source  # everything installed before dropping root
    health = next(a for w, a in instr if w == "HEALTHCHECK")
    assert "/api/v1/health" in health
    assert json.loads(next(a for w, a in instr if w == "ENTRYPOINT")) == ["perpvol"]
    assert _dockerfile_cmd()[0] == "serve"
    for w, a in instr:  # no secret baked in
        if w in ("ENV", "ARG"):
            assert not re.search(r"PERPVOL_(MASTER_KEY|PASSWORD|API_TOKEN)\b", a), a


def test_dockerfile_requirement_extraction_matches_pyproject(tmp_path: Path) -> None:
    """Run the Dockerfile's own requirements step (as /bin/sh would) and compare with pyproject.toml."""
    step = next(a for w, a in _dockerfile_instructions() if w == "RUN" and "tomllib" in a)
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    step = step.replace("/tmp/requirements.txt", str(tmp_path / "requirements.txt"))
    python_dir = str(Path(sys.executable).parent)
    project = _pyproject()
    notebook = project["dependencies"] + project["optional-dependencies"]["notebook"]
    for extras, expected in (("", project["dependencies"]), ("notebook", notebook)):
        env = {"PATH": f"{python_dir}:{os.environ.get('PATH', '')}", "EXTRAS": extras}
        proc = subprocess.run(["/bin/sh", "-c", step], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert (tmp_path / "requirements.txt").read_text().split() == expected


# -- the containers' commands start and answer /api/v1/health ---------------------------------------------------


def _health(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=5) as r:  # noqa: S310
            return json.loads(r.read()) if r.status == 200 else None
    except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
        return None


def _stop(proc: subprocess.Popen[str]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
            pytest.fail("process ignored SIGTERM")
    return proc.returncode


@pytest.mark.skipif(
    not (REPO / "perpvol_app" / "api.py").exists(), reason="perpvol_app/api.py (the /api/v1 routes) does not exist yet"
)
def test_image_commands_start_and_answer_health(tmp_path: Path) -> None:
    compose = _compose()
    port = free_port()
    app_cmd = list(compose["services"]["app"]["command"])
    app_cmd[app_cmd.index("--address") + 1] = "127.0.0.1"  # the container binds 0.0.0.0; here loopback only
    app_cmd[app_cmd.index("--port") + 1] = str(port)
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPVOL_")}
    env.update(PERPVOL_HOME=str(home), PERPVOL_DATABASE_URL=f"sqlite:///{tmp_path / 'perpvol.db'}",
               PERPVOL_PASSWORD="compose-test-password", PYTHONUNBUFFERED="1")  # fmt: skip
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("app", "worker")}  # noqa: SIM115
    app = subprocess.Popen([str(PERPVOL), *app_cmd], env=env, stdout=logs["app"], stderr=subprocess.STDOUT, text=True)
    worker: subprocess.Popen[str] | None = None
    try:
        deadline = time.monotonic() + 120
        body = None
        while body is None:
            app_log = (tmp_path / "app.log").read_text()[-3000:]
            assert app.poll() is None, app_log
            assert time.monotonic() < deadline, "no /api/v1/health answer:\n" + app_log
            time.sleep(0.5)
            body = _health(port)
        assert body["status"] == "ok" and body["database"] == "ok"
        # the image's own HEALTHCHECK command, pointed at this port
        check = compose["services"]["app"]["healthcheck"]["test"]
        assert check[0] == "CMD"
        script = check[-1].replace("127.0.0.1:5006", f"127.0.0.1:{port}")
        assert subprocess.run([sys.executable, "-c", script], timeout=30).returncode == 0
        docker_health = next(a for w, a in _dockerfile_instructions() if w == "HEALTHCHECK")
        docker_script = json.loads(docker_health[docker_health.index("CMD") + 3:].strip())[-1]
        docker_script = docker_script.replace(":5006", f":{port}")
        assert subprocess.run([sys.executable, "-c", docker_script], timeout=30).returncode == 0

        # the worker service's health check, then its command, on the same database
        check = compose["services"]["worker"]["healthcheck"]["test"][1:]
        assert check[0] == "perpvol"

        def worker_healthy() -> bool:
            return subprocess.run([str(PERPVOL), *check[1:]], env=env, timeout=60).returncode == 0

        assert not worker_healthy()  # no worker has run: no heartbeat
        worker = subprocess.Popen([str(PERPVOL), *compose["services"]["worker"]["command"]], env=env,
                                  stdout=logs["worker"], stderr=subprocess.STDOUT, text=True)  # fmt: skip
        started = time.monotonic() + 60
        while "perpvol worker" not in (tmp_path / "worker.log").read_text():
            assert worker.poll() is None, "worker exited:\n" + (tmp_path / "worker.log").read_text()[-3000:]
            assert time.monotonic() < started, "worker did not report start:\n" + (tmp_path / "worker.log").read_text()
            time.sleep(0.3)
        assert worker_healthy()
        assert _health(port) is not None  # the app keeps answering with the worker running beside it
        assert worker.poll() is None
        assert _stop(worker) == 0, (tmp_path / "worker.log").read_text()[-3000:]
        # a heartbeat older than the limit (a dead worker) is unhealthy
        from perpvol_core.config import Settings
        from perpvol_core.services.worker import HEARTBEAT_STALE_S, heartbeat_path

        beat = heartbeat_path(Settings.from_env(env))
        old = time.time() - HEARTBEAT_STALE_S - 5
        os.utime(beat, (old, old))
        assert not worker_healthy()
    finally:
        if worker is not None:
            _stop(worker)
        _stop(app)
        for fh in logs.values():
            fh.close()
