"""deploy/compose.yaml, run: podman-compose brings up PostgreSQL and the bot, which answers a mail.

Debian's podman-compose (1.0.3 on bookworm) runs the real compose file, copied unchanged into a
temporary folder but for the host port of the desk (a free one instead of 8080), next to a `.env`
(POSTGRES_PASSWORD, INTAKE_IMAGE) and an `intake.env` made from deploy/intake.env.example, with a
Maildir in the bot's volume instead of IMAP and reply files instead of SMTP (the test's own IMAP and
SMTP servers listen on the host's 127.0.0.1, which the containers' network does not reach).

No image registry is reachable here, so `postgres:16` is a local stand-in, built once on the test's
Debian base from Debian's PostgreSQL 15 (tests/containers/postgres) and tagged `postgres:16` in
podman's storage for the test's duration only; the bot's image is the one tests/test_container.py
builds from the Dockerfile (its `image` fixture), tagged as INTAKE_IMAGE, so compose builds nothing.

The test proves that both services start and pass their compose health checks (as podman-compose
hands them to podman), that the app reaches the database by its service name with the password from
`.env` (scram), migrates it, answers a mail whose rows are then in PostgreSQL, and that after
`podman-compose down` (volumes kept) and `up` again the data is still there and nothing is answered
twice. Containers, network, volumes and the test's image tags are removed afterwards, also on failure.

About 25 s once the images are there (the stand-in is built once per base, in about 30 s). Skipped, with the
reason, where podman cannot work (tests/test_container.py's reasons), where podman-compose,
catatonit (compose's `init: true`) or the DNS plugin of podman's network backend (the app finds the
database by name) is not installed, and when INTAKE_TEST_CONTAINER=0.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import test_container
from tests.bot import REGISTER_CSV, protocol_mail
from tests.test_container import (
    BASE_CACHE,
    DATA,
    DELIVER,
    DEPLOY,
    LOCAL_MAIL,
    ROOT,
    SEASON,
    exec_json,
    free_port,
    healthz,
    make_base,
    podman,
    podman_problem,
    run_options,
    text_of,
)

STANDIN_CONTEXT = ROOT / "tests" / "containers" / "postgres"
STANDIN_TAG = "localhost/intake-test-postgres:latest"  # kept, so the next run reuses it
STANDIN_LABEL = "intake.test.standin"  # set by the stand-in's Dockerfile
POSTGRES = "postgres:16"  # compose.yaml's image; podman finds the short name as localhost/postgres:16
APP_REPOSITORY = "localhost/intake-compose-test"
PROJECT_LABEL = "io.podman.compose.project"
CNI_PLUGIN_DIRS = ("/usr/lib/cni", "/usr/libexec/cni", "/opt/cni/bin")
AARDVARK = ("/usr/lib/podman/aardvark-dns", "/usr/libexec/podman/aardvark-dns")
CATATONIT = "/usr/libexec/podman/catatonit"  # podman's default init_path, for compose's `init: true`
# what the caller's environment must not give podman-compose: the files in the folder say it
COMPOSE_VARIABLES = ("POSTGRES_PASSWORD", "INTAKE_IMAGE", "BASE_IMAGE", "COMPOSE_FILE", "COMPOSE_PROJECT_NAME",
                     "COMPOSE_PATH_SEPARATOR")
DESK = '"127.0.0.1:8080:8080"'
TIMINGS: dict[str, str] = {}

# The fixture that builds the bot's image from the Dockerfile, shared with tests/test_container.py.
image = test_container.image


def compose_problem() -> str | None:
    """Why podman-compose can't run deploy/compose.yaml here, or None."""
    problem = podman_problem()
    if problem:
        return problem
    if shutil.which("podman-compose") is None:
        return "podman-compose not installed (./dev test installs Debian's podman-compose)"
    if not Path(CATATONIT).exists():
        return f"{CATATONIT} missing: compose.yaml's `init: true` needs Debian's catatonit (./dev test installs it)"
    backend = text_of(podman("info", "--format", "{{.Host.NetworkBackend}}", check=False))
    if backend == "cni" and not any(Path(d, "dnsname").exists() for d in CNI_PLUGIN_DIRS):
        return ("podman's CNI network has no DNS, so the app can't find `db`: install Debian's "
                "golang-github-containernetworking-plugin-dnsname (./dev test does)")
    if backend == "netavark" and not any(Path(p).exists() for p in AARDVARK):
        return "podman's netavark network has no DNS, so the app can't find `db`: install Debian's aardvark-dns"
    return None


@pytest.fixture(scope="session")
def postgres_image() -> str:
    """The id of the stand-in for postgres:16, built from tests/containers/postgres on the test's base."""
    problem = compose_problem()
    if problem:
        pytest.skip(f"deploy/compose.yaml not run: {problem}")
    base = make_base()
    started = time.monotonic()
    with open(BASE_CACHE / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time, as tests/test_container.py's
        previous = podman("image", "inspect", STANDIN_TAG, "--format", "{{.Id}}", check=False)
        podman("build", "--isolation", "chroot", "--format", "docker", "--build-arg", f"BASE_IMAGE={base}",
               "--tag", STANDIN_TAG, "--iidfile", str(BASE_CACHE / "postgres.iid"), str(STANDIN_CONTEXT),
               timeout=900)
        built = (BASE_CACHE / "postgres.iid").read_text().strip().removeprefix("sha256:")
    if previous.returncode == 0 and text_of(previous) not in ("", built):
        podman("rmi", text_of(previous), check=False)
    TIMINGS["postgres stand-in"] = f"{time.monotonic() - started:.0f} s"
    return built


@pytest.fixture(scope="module")
def timings(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    yield TIMINGS
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if TIMINGS and reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # the measurements, in every run's output
            reporter.write_line("\ncompose test: " + ", ".join(f"{k} {v}" for k, v in TIMINGS.items()))


def env_file(example: str) -> str:
    """deploy/intake.env.example with the test's season and local mail: each line it sets replaced."""
    values = {**SEASON, **LOCAL_MAIL, "INTAKE_WEB_SECRET_KEY": secrets.token_hex(32)}
    lines = []
    for line in example.splitlines():
        name = line.split("=", 1)[0]
        lines.append(f"{name}={values.pop(name)}" if not line.startswith("#") and name in values else line)
    return "\n".join([*lines, *(f"{name}={value}" for name, value in values.items())]) + "\n"


class Stack:
    """deploy/compose.yaml in a folder of its own, run by podman-compose as the project `name`."""

    def __init__(self, folder: Path, name: str, port: int, password: str, app_image: str) -> None:
        self.folder, self.name = folder, name
        self.db, self.app = f"{name}_db_1", f"{name}_app_1"  # podman-compose 1.0.3's container names
        text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
        assert text.count(DESK) == 1
        folder.mkdir()
        (folder / "compose.yaml").write_text(text.replace(DESK, f'"127.0.0.1:{port}:8080"'), encoding="utf-8")
        (folder / ".env").write_text(f"POSTGRES_PASSWORD={password}\nINTAKE_IMAGE={app_image}\n")
        (folder / "intake.env").write_text(env_file((DEPLOY / "intake.env.example").read_text(encoding="utf-8")),
                                           encoding="utf-8")
        for secret in (".env", "intake.env"):
            (folder / secret).chmod(0o600)
        self.log: list[str] = []

    def compose(self, *args: str, timeout: float = 300) -> None:
        """podman-compose, as the guide runs it; it says 0 even when a podman command failed, so the
        callers check the containers, and a failure shows what it ran."""
        environ = {k: v for k, v in os.environ.items() if k not in COMPOSE_VARIABLES}
        done = subprocess.run(["podman-compose", "-p", self.name, "-f", str(self.folder / "compose.yaml"),
                               # podman run here needs explicit limits (tests/test_container.py)
                               "--podman-run-args", " ".join(run_options()), *args],
                              cwd=self.folder, env=environ, capture_output=True, text=True, timeout=timeout,
                              check=False)
        self.log.append(f"$ podman-compose {' '.join(args)}  (exit {done.returncode})\n"
                        f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
        assert done.returncode == 0, self.diagnosis(f"podman-compose {' '.join(args)} failed")

    def diagnosis(self, what: str) -> str:
        logs = []
        for name in (self.db, self.app):
            done = podman("logs", "--tail", "40", name, check=False)
            logs.append(f"--- podman logs {name}:\n" + (done.stdout + done.stderr).decode(errors="replace"))
        return "\n".join([what, *self.log[-2:], *logs])

    def containers(self) -> list[str]:
        listing = podman("ps", "--all", "--filter", f"label={PROJECT_LABEL}={self.name}", "--format", "{{.Names}}")
        return sorted(text_of(listing).split())

    def wait_healthy(self, name: str, timeout: float = 120) -> float:
        """Seconds until the container's compose health check passes (podman runs it on demand here:
        without systemd it has no timer); fails with the logs."""
        started = time.monotonic()
        while podman("healthcheck", "run", name, check=False, timeout=60).returncode != 0:
            state = text_of(podman("inspect", name, "--format", "{{.State.Status}}", check=False))
            if state not in ("created", "running", "configured") or time.monotonic() - started > timeout:
                pytest.fail(self.diagnosis(f"{name} {state}, not healthy after {time.monotonic() - started:.0f} s"))
            time.sleep(0.5)
        assert text_of(podman("inspect", name, "--format", "{{.State.Health.Status}}")) == "healthy"
        return time.monotonic() - started

    def up(self, port: int) -> float:
        started = time.monotonic()
        self.compose("up", "-d", "--no-build")
        assert self.containers() == sorted([self.app, self.db]), self.diagnosis("not both containers")
        self.wait_healthy(self.db)
        self.wait_healthy(self.app)
        assert healthz(port)[0] == 200, "the desk does not answer on the host's published port"
        return time.monotonic() - started

    def psql(self, query: str) -> str:
        """A query in the db container, over its socket, as compose's POSTGRES_USER."""
        return text_of(podman("exec", self.db, "psql", "-U", "intake", "-d", "intake", "-AtXc", query))

    def remove(self) -> None:
        """Everything of the project: containers, volumes, network (podman-compose 1.0.3's down
        leaves the network), whatever state it is in."""
        label = f"label={PROJECT_LABEL}={self.name}"
        with contextlib.suppress(Exception):
            self.compose("down", "--volumes", "--timeout", "10", timeout=120)
        containers = text_of(podman("ps", "--all", "--quiet", "--filter", label, check=False)).split()
        if containers:
            podman("rm", "--force", "--time", "0", *containers, check=False)
        volumes = text_of(podman("volume", "ls", "--quiet", "--filter", label, check=False)).split()
        if volumes:
            podman("volume", "rm", "--force", *volumes, check=False)
        podman("network", "rm", "--force", f"{self.name}_default", check=False)


@contextlib.contextmanager
def tagged(postgres_id: str, app_id: str, app_tag: str) -> Iterator[str]:
    """The bot's image as INTAKE_IMAGE, the stand-in as postgres:16 (unless the machine has a
    postgres:16 of its own), for as long as the test runs; yields what postgres:16 is."""
    tags = [app_tag]
    podman("tag", app_id, app_tag)
    try:
        found = podman("image", "inspect", POSTGRES, "--format", f'{{{{index .Labels "{STANDIN_LABEL}"}}}}',
                       check=False)
        if found.returncode == 0 and text_of(found) != POSTGRES:
            yield "this machine's own postgres:16"
            return
        podman("tag", postgres_id, POSTGRES)
        tags.append(f"localhost/{POSTGRES}")
        yield "the stand-in (Debian's PostgreSQL 15)"
    finally:
        podman("untag", app_id, app_tag, check=False)
        if len(tags) > 1:
            podman("untag", postgres_id, tags[1], check=False)


def test_compose_runs_postgresql_and_the_bot_which_answers_a_mail_and_keeps_it(
        postgres_image: str, image: str, tmp_path: Path, timings: dict[str, str]) -> None:
    name = f"intake-test-{uuid.uuid4().hex[:10]}"
    port = free_port()
    password = secrets.token_hex(16)  # letters and digits, as the guide asks
    stack = Stack(tmp_path / "deploy", name, port, password, f"{APP_REPOSITORY}:{name}")
    started = time.monotonic()
    with open(BASE_CACHE / "compose.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one compose test at a time: the postgres:16 tag is shared
        with tagged(postgres_image, image, f"{APP_REPOSITORY}:{name}") as postgres:
            timings["postgres:16"] = postgres
            try:
                timings["up to healthy"] = f"{stack.up(port):.1f} s"
                check_running_stack(stack, port, password)

                # a protokollsutdrag in the Maildir: confirmed, answered, and its rows in PostgreSQL
                begun = time.monotonic()
                imported = podman("exec", "--interactive", stack.app, "sh", "-c",
                                  "cat > /tmp/register.csv && intake units import /tmp/register.csv",
                                  input=REGISTER_CSV.encode())
                assert text_of(imported).startswith("3 tillagda")
                podman("exec", "--interactive", stack.app, "python3", "-c", DELIVER, input=protocol_mail().raw)
                deadline = time.monotonic() + 90
                while not (messages := exec_json(stack.app, "intake", "messages", "--json")) or \
                        messages[0]["reply_status"] != "sent":
                    assert time.monotonic() < deadline, stack.diagnosis(f"no reply sent: {messages}")
                    time.sleep(1)
                timings["mail answered"] = f"{time.monotonic() - begun:.1f} s"
                assert messages[0]["outcome"] == "confirmed" and len(messages[0]["units"]) == 2
                check_stored(stack)

                # down (the volumes stay), up again: the same data, and the mail is not answered twice
                begun = time.monotonic()
                stack.compose("down")
                timings["down"] = f"{time.monotonic() - begun:.1f} s"
                assert stack.containers() == []
                for volume in ("db-data", "intake-data"):
                    assert podman("volume", "exists", f"{name}_{volume}", check=False).returncode == 0, volume
                timings["up again to healthy"] = f"{stack.up(port):.1f} s"
                check_running_stack(stack, port, password)
                assert [m["outcome"] for m in exec_json(stack.app, "intake", "messages", "--json")] == ["confirmed"]
                check_stored(stack)
            finally:
                stack.remove()
    assert stack.containers() == []
    assert podman("network", "exists", f"{name}_default", check=False).returncode != 0
    for volume in ("db-data", "intake-data"):
        assert podman("volume", "exists", f"{name}_{volume}", check=False).returncode != 0
    timings["test"] = f"{time.monotonic() - started:.0f} s"


def check_running_stack(stack: Stack, port: int, password: str) -> None:
    """The app runs as compose says, on PostgreSQL reached by the service name, schema migrated."""
    app = json.loads(text_of(podman("inspect", stack.app)))[0]
    assert app["Config"]["User"] == "10001:10001" and app["HostConfig"]["ReadonlyRootfs"] is True
    status = text_of(podman("exec", stack.app, "cat", "/proc/1/status")).splitlines()
    assert [line.split()[1] for line in status if line.startswith(("CapEff", "NoNewPrivs"))] == ["0" * 16, "1"]
    # `init: true`: podman's catatonit is PID 1, the bot its child
    command = text_of(podman("exec", stack.app, "cat", "/proc/1/cmdline")).strip("\0").replace("\0", " ")
    assert command.endswith(" -- intake run --web"), command
    # the desk on the host's loopback only, the database on no port of the host at all
    assert text_of(podman("port", stack.app)).splitlines() == [f"8080/tcp -> 127.0.0.1:{port}"]
    assert text_of(podman("port", stack.db)) == ""
    url = text_of(podman("exec", stack.app, "printenv", "INTAKE_DATABASE_URL"))
    assert url == f"postgresql+psycopg://intake:{password}@db:5432/intake"
    checked = text_of(podman("exec", stack.app, "intake", "check")).splitlines()
    assert checked[0].startswith("database: ok (schema up to date"), checked
    revision = stack.psql("SELECT version_num FROM alembic_version")
    assert revision and revision in checked[0]
    # password authentication over the network, as the app does (trust is the db's socket only)
    wrong = podman("exec", "--env", "PGPASSWORD=wrong", stack.db, "psql", "-h", "db", "-U", "intake", "-d", "intake",
                   "-c", "SELECT 1", check=False)
    assert wrong.returncode != 0 and b"password authentication failed" in wrong.stderr
    assert stack.psql("SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'intake'") == "t"
    assert stack.psql("SHOW listen_addresses") == "*"


def check_stored(stack: Stack) -> None:
    assert stack.psql("SELECT outcome FROM messages") == "confirmed"
    assert stack.psql("SELECT status FROM replies") == "sent"
    assert stack.psql("SELECT count(*) FROM units") == "3"
    replies = text_of(podman("exec", stack.app, "ls", f"{DATA}/outbox")).split()
    assert len(replies) == 1 and replies[0].endswith(".eml")
