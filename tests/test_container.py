"""The deployment files, checked: the container image really built and started, and answering.

The image is built from the Dockerfile by Debian's podman on a Debian bookworm base made here with
debootstrap (no image registry is reachable from these machines), passed as the BASE_IMAGE build
argument, exactly as a city would pass its own base. The container then runs as compose runs it
(read-only, every capability dropped, data in a volume, the desk published on 127.0.0.1 only) with
a Maildir instead of IMAP and reply files instead of SMTP, and must: answer GET /healthz from the
host, pass the image's own HEALTHCHECK, run as the unprivileged user, find Tesseract with Swedish,
answer a mail, stop cleanly on SIGTERM and start again on the same volume.

Slow the first time on a machine (about three minutes: the base, 1 to 1.5 min, then the build, about
1 min), then the base (a month) and the build's layers are reused: about 30 s. Skipped, with the reason, where podman cannot work
(not installed, not root) and when INTAKE_TEST_CONTAINER=0. The fast checks of compose.yaml, the
systemd unit and the image's configuration always run.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from intake.config import SCHEMA, env_name, parse_settings
from intake.errors import ConfigError
from tests.bot import REGISTER_CSV, protocol_mail

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
BASE_CACHE = Path(os.environ.get("INTAKE_TEST_BASE_CACHE", "/var/tmp/intake-podman-base"))
BASE_REPOSITORY = "localhost/intake-test-base"
IMAGE_TAG = "localhost/intake-test:latest"
BASE_LABEL = "intake.test.base"  # on the base, and so on every image built from it
BASE_VERSION = 1  # raise when the recipe below changes; the month in the tag renews it monthly
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
DEBIAN_MIRROR = os.environ.get("INTAKE_TEST_DEBIAN_MIRROR", "http://deb.debian.org/debian")
CA_BUNDLES = (os.environ.get("PIP_CERT", ""), os.environ.get("SSL_CERT_FILE", ""),
              "/etc/ssl/certs/ca-certificates.crt")
UID = "10001"  # the image's user `intake`
LIMIT = 4096  # open files and processes in the container
SEASON = {  # the settings a city gives as variables (deploy/intake.env.example)
    "INTAKE_AWARD_YEAR": "2017",
    "INTAKE_AWARD_MAILBOX": "kvalitetsutmarkelsen@stockholm.se",
    "INTAKE_AWARD_PROTOCOL_DEADLINE": "2017-06-30",
}
LOCAL_MAIL = {  # a Maildir in the volume instead of IMAP, reply files instead of SMTP
    "INTAKE_SOURCE_KIND": "maildir",
    "INTAKE_OUTBOX_TRANSPORT": "files",
    "INTAKE_PROCESSING_WORKERS": "1",
    "INTAKE_IMAP_POLL_INTERVAL": "1",
}
DATA = "/var/lib/intake"
# Delivers stdin to the volume's Maildir as received on 19 June 2017: written in tmp/ with that
# mtime, then renamed into new/, so the bot never sees it with another arrival time.
DELIVER = """
import os, sys
raw, stamp = sys.stdin.buffer.read(), 1497859200.0
tmp, new = "/var/lib/intake/maildir/tmp/1497859200.M1P1.test", "/var/lib/intake/maildir/new/1497859200.M1P1.test"
open(tmp, "wb").write(raw)
os.utime(tmp, (stamp, stamp))
os.rename(tmp, new)
"""
OCR_CHECK = """
import shutil
from intake.reading import tools
tools.check(pdf=True)
print(" ".join(sorted(tools.languages())), *(bool(shutil.which(t)) for t in ("antiword", "catdoc", "prlimit")))
"""

TIMINGS: dict[str, str] = {}


# --- the fast checks: compose.yaml, the systemd unit, the image's configuration ----------------------


def known_variables() -> set[str]:
    """Every INTAKE_* variable the bot reads: one per configuration key, and those the code names."""
    names = {env_name(section, key) for section, keys in SCHEMA.items() for key in keys}
    for path in (ROOT / "intake").rglob("*.py"):
        names.update(re.findall(r"\bINTAKE_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(encoding="utf-8")))
    return names


@pytest.mark.parametrize("name", ["deploy/compose.yaml", "deploy/intake.env.example", "deploy/intake.service",
                                  "deploy/intake.toml", "Dockerfile", "docs/DEPLOY.md"])
def test_deployment_files_name_only_variables_the_bot_reads(name: str) -> None:
    text = (ROOT / name).read_text(encoding="utf-8")
    named = set(re.findall(r"\bINTAKE_[A-Z0-9_]*[A-Z0-9]\b", text))
    # compose's image name, and the test suite's switches
    named = {n for n in named if n != "INTAKE_IMAGE" and not n.startswith("INTAKE_TEST_")}
    assert named, f"{name} names no INTAKE_* variable"
    assert named <= known_variables(), f"{name} names variables the bot never reads: {named - known_variables()}"


def test_image_configuration_with_the_example_variables_is_complete() -> None:
    """deploy/intake.toml plus deploy/intake.env.example is a valid configuration for the container."""
    environ = dict(line.split("=", 1) for line in (DEPLOY / "intake.env.example").read_text(encoding="utf-8")
                   .splitlines() if line and not line.startswith("#"))
    environ["INTAKE_WEB_HOST"] = "0.0.0.0"  # as the Dockerfile sets it
    settings = parse_settings((DEPLOY / "intake.toml").read_text(encoding="utf-8"), environ)
    assert settings.award.year == 2025 and settings.imap.password == "change-me"
    assert settings.database.url == f"sqlite:///{DATA}/intake.db"
    assert settings.source.maildir.startswith(DATA) and settings.outbox.path.startswith(DATA)
    assert (settings.web.host, settings.web.port) == ("0.0.0.0", 8080)
    # without the season, the bot stops at start naming the first missing key
    with pytest.raises(ConfigError, match=r"award\.year: missing"):
        parse_settings((DEPLOY / "intake.toml").read_text(encoding="utf-8"), {})


def test_compose_file_runs_the_app_with_postgresql_16_and_healthchecks() -> None:
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    services = re.findall(r"^  ([a-z]+):$", text, re.MULTILINE)
    assert services == ["db", "app"]
    assert "image: postgres:16\n" in text
    assert text.count("healthcheck:") == 2
    assert re.search(r"condition: service_healthy", text)
    assert "INTAKE_DATABASE_URL: postgresql+psycopg://intake:${POSTGRES_PASSWORD" in text
    assert '"127.0.0.1:8080:8080"' in text  # the desk never on every interface of the host
    assert "- intake-data:/var/lib/intake" in text and "- db-data:/var/lib/postgresql/data" in text
    assert "\t" not in text
    # the app's health check is the image's own
    probe = re.search(r'HEALTHCHECK .*?"-c", "([^"]+)"\]', (ROOT / "Dockerfile").read_text(encoding="utf-8"),
                      re.DOTALL)
    # as one shell command: podman-compose 1.0.3 breaks a CMD list's quoting (tests/test_compose.py)
    assert probe and f'["CMD-SHELL", "python3 -c \\"{probe.group(1)}\\""]' in text


def test_systemd_unit_is_valid_and_hardened(tmp_path: Path) -> None:
    unit = (DEPLOY / "intake.service").read_text(encoding="utf-8")
    for line in ("User=intake", "ExecStart=/opt/intake/bin/intake run --web", "Restart=on-failure",
                 "NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/intake",
                 "EnvironmentFile=/etc/intake/intake.env", "Environment=INTAKE_CONFIG=/etc/intake/intake.toml"):
        assert f"\n{line}\n" in unit, line
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed: the unit's syntax is not checked")
    # verify wants ExecStart to exist: point it at this checkout's intake
    copy = tmp_path / "intake.service"
    copy.write_text(unit.replace("/opt/intake/bin/intake", str(Path(sys.executable).parent / "intake")))
    done = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


# --- podman --------------------------------------------------------------------------------------


def podman(*args: str, timeout: float = 120, check: bool = True, input: bytes | None = None,
           ) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(["podman", *args], capture_output=True, timeout=timeout, input=input, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)[:300]} exited {done.returncode}:\n"
                             f"{done.stderr.decode('utf-8', 'replace')[-4000:]}")
    return done


def text_of(done: subprocess.CompletedProcess[bytes]) -> str:
    return done.stdout.decode("utf-8", "replace").strip()


def podman_problem() -> str | None:
    """Why podman can't build and run the image on this machine, or None."""
    if os.environ.get("INTAKE_TEST_CONTAINER", "1") == "0":
        return "INTAKE_TEST_CONTAINER=0"
    missing = [tool for tool in ("podman", "buildah", "debootstrap", "runc") if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not installed (./dev test installs Debian's podman buildah debootstrap runc)"
    if os.geteuid() != 0:
        return "podman builds the test's base image as root only (debootstrap); not root here"
    info = subprocess.run(["podman", "info"], capture_output=True, text=True, timeout=120, check=False)
    if info.returncode != 0:
        return f"podman does not work here: {(info.stderr.strip().splitlines() or ['?'])[-1]}"
    return None


def limits() -> list[str]:
    """podman run on these machines needs explicit limits (its defaults are refused): 4096 files and
    processes, plenty for the bot, or less where this process has less."""
    options = []
    for name, which in (("nofile", resource.RLIMIT_NOFILE), ("nproc", resource.RLIMIT_NPROC)):
        value = min(LIMIT, *(v for v in resource.getrlimit(which) if v != resource.RLIM_INFINITY))
        options += ["--ulimit", f"{name}={value}:{value}"]
    return options


def run_options() -> list[str]:
    return ["--runtime", "runc", *limits()]


def ca_bundle() -> str | None:
    return next((path for path in CA_BUNDLES if path and Path(path).is_file()), None)


def make_base() -> str:
    """A Debian bookworm image with Debian's python3 (3.11) and venv: debootstrap, podman import.

    Made once a month per machine (the tag carries the month) and reused; a lock keeps two test
    runs from making it at once."""
    tag = f"{BASE_REPOSITORY}:bookworm-v{BASE_VERSION}-{date.today():%Y%m}"
    BASE_CACHE.mkdir(parents=True, exist_ok=True)
    with open(BASE_CACHE / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if podman("image", "exists", tag, check=False).returncode == 0:
            TIMINGS["base"] = "reused"
            return tag
        started = time.monotonic()
        rootfs = BASE_CACHE / "rootfs"
        shutil.rmtree(rootfs, ignore_errors=True)
        log = BASE_CACHE / "debootstrap.log"
        with open(log, "wb") as out:
            done = subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
                                   "bookworm", str(rootfs), DEBIAN_MIRROR],
                                  stdout=out, stderr=subprocess.STDOUT, timeout=900, check=False)
        if done.returncode != 0:
            tail = log.read_text(errors="replace")[-3000:]
            pytest.fail(f"debootstrap of the test's base failed (log: {log}):\n{tail}")
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for entry in (rootfs / cache).glob("*"):
                if entry.is_file():
                    entry.unlink()
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        assert tar.stdout is not None
        imported = subprocess.run(
            ["podman", "import", "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             "--change", 'CMD ["/bin/bash"]', "--change", f"LABEL {BASE_LABEL}={tag}", "-", tag],
            stdin=tar.stdout, capture_output=True, timeout=600, check=False)
        tar.stdout.close()
        tar.wait(timeout=60)
        shutil.rmtree(rootfs, ignore_errors=True)
        assert imported.returncode == 0, imported.stderr.decode(errors="replace")
        # Every image built on a base carries its label: the old base goes with all built on it.
        listing = podman("images", "--all", "--filter", f"label={BASE_LABEL}",
                         "--format", f'{{{{.ID}}}} {{{{index .Labels "{BASE_LABEL}"}}}}', check=False)
        old = [line.split()[0] for line in text_of(listing).splitlines() if line.split()[1:] != [tag]]
        if old:
            podman("rmi", "--force", *old, check=False, timeout=600)
        TIMINGS["base"] = f"made in {time.monotonic() - started:.0f} s"
        return tag


@pytest.fixture(scope="module")
def image(request: pytest.FixtureRequest) -> Iterator[str]:
    """The id of the image built from this checkout's Dockerfile on the local base."""
    problem = podman_problem()
    if problem:
        pytest.skip(f"container image not tested: {problem}")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    base = make_base()
    smoke = podman("run", "--rm", *run_options(), "--network", "none", base, "python3", "--version",
                   check=False, timeout=120)
    if smoke.returncode != 0:
        pytest.skip("podman cannot start containers here: "
                    + (smoke.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1])
    build = ["build", "--isolation", "chroot", "--format", "docker",  # docker format: keeps HEALTHCHECK
             "--build-arg", f"BASE_IMAGE={base}", "--tag", IMAGE_TAG, "--iidfile", str(BASE_CACHE / "iid"),
             "--file", str(ROOT / "Dockerfile")]
    bundle = ca_bundle()
    if bundle:  # pip's traffic here passes a re-signing proxy: the build trusts what this machine trusts
        build += ["--secret", f"id=ca_bundle,src={bundle}"]
    started = time.monotonic()
    with open(BASE_CACHE / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; then this run uses its image by id
        previous = podman("image", "inspect", IMAGE_TAG, "--format", "{{.Id}}", check=False)
        podman(*build, str(ROOT), timeout=1800)
        built = (BASE_CACHE / "iid").read_text().strip().removeprefix("sha256:")
    TIMINGS["build"] = f"{time.monotonic() - started:.0f} s"
    size = int(text_of(podman("image", "inspect", built, "--format", "{{.Size}}")))
    TIMINGS["image"] = f"{size / 1e6:.0f} MB"
    # The image stays tagged, so the next run's build reuses its layers; the one it replaced goes
    # (unless another run still uses it).
    if previous.returncode == 0 and text_of(previous) not in ("", built):
        podman("rmi", text_of(previous), check=False)
    try:
        yield built
    finally:
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        if reporter is not None and capture is not None:
            with capture.global_and_fixture_disabled():  # the measurements, in every run's output
                reporter.write_line("\ncontainer test: " + ", ".join(f"{k} {v}" for k, v in TIMINGS.items()))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def healthz(port: int) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {}
    except OSError:
        return 0, {}


def wait_healthy(name: str, port: int, timeout: float = 120) -> float:
    """Seconds until GET /healthz answers 200 from the host; fails with the container's log."""
    started = time.monotonic()
    while healthz(port)[0] != 200:
        state = text_of(podman("inspect", name, "--format", "{{.State.Status}}", check=False))
        if state not in ("created", "running", "configured") or time.monotonic() - started > timeout:
            logs = podman("logs", name, check=False)
            pytest.fail(f"container {state}, /healthz not 200 after {time.monotonic() - started:.0f} s:\n"
                        + (logs.stdout + logs.stderr).decode(errors="replace")[-4000:])
        time.sleep(0.2)
    return time.monotonic() - started


def environment(values: dict[str, str]) -> list[str]:
    return [option for key, value in values.items() for option in ("--env", f"{key}={value}")]


def exec_json(name: str, *command: str) -> Any:
    return json.loads(text_of(podman("exec", name, *command)))


@contextlib.contextmanager
def container(image: str, port: int, volume: str, options: Sequence[str] = ()) -> Iterator[str]:
    name = f"intake-test-{uuid.uuid4().hex[:12]}"
    podman("volume", "create", volume)
    try:
        podman("run", "--detach", "--name", name, *run_options(),
               # as deploy/compose.yaml runs it
               "--read-only", "--read-only-tmpfs=false", "--tmpfs", "/tmp", "--cap-drop", "ALL",
               "--security-opt", "no-new-privileges",
               "--publish", f"127.0.0.1:{port}:8080", "--volume", f"{volume}:{DATA}",
               # no systemd here to run the health timer: the test runs the image's check itself
               "--health-interval", "disable",
               *environment(SEASON), *environment(LOCAL_MAIL), *options, image)
        yield name
    finally:
        podman("rm", "--force", "--time", "0", name, check=False)
        podman("volume", "rm", "--force", volume, check=False)


def test_image_starts_healthy_as_its_own_user_and_answers_a_mail(image: str) -> None:
    port = free_port()
    volume = f"intake-test-{uuid.uuid4().hex[:12]}"
    with container(image, port, volume) as name:
        TIMINGS["start to healthy"] = f"{wait_healthy(name, port):.1f} s"
        status, body = healthz(port)
        assert status == 200 and body["database"] is True

        # the image's own HEALTHCHECK passes, and podman records it
        assert podman("healthcheck", "run", name, check=False).returncode == 0
        assert text_of(podman("inspect", name, "--format", "{{.State.Health.Status}}")) == "healthy"
        inspected = json.loads(text_of(podman("image", "inspect", image)))[0]
        config = inspected["Config"]
        check = inspected.get("Healthcheck") or config.get("Healthcheck")  # podman's place, docker's
        assert "/healthz" in " ".join(check["Test"])
        assert config["User"] == f"{UID}:{UID}" and config["ExposedPorts"] == {"8080/tcp": {}}

        # the bot (PID 1) and every exec run as intake, never root
        status_lines = text_of(podman("exec", name, "cat", "/proc/1/status")).splitlines()
        uids = next(line for line in status_lines if line.startswith("Uid:")).split()[1:]
        assert uids == [UID] * 4
        assert text_of(podman("exec", name, "id", "-u")) == UID
        assert "intake run --web" in text_of(podman("exec", name, "cat", "/proc/1/cmdline")).replace("\0", " ")

        # OCR and the Word tools are there, as the bot finds them
        assert text_of(podman("exec", name, "python3", "-c", OCR_CHECK)) == "eng osd swe True True True"

        # the register, then a protokollsutdrag: confirmed and answered (reply templates from the wheel)
        imported = podman("exec", "--interactive", name, "sh", "-c",
                          "cat > /tmp/register.csv && intake units import /tmp/register.csv",
                          input=REGISTER_CSV.encode())
        assert text_of(imported).startswith("3 tillagda")
        podman("exec", "--interactive", name, "python3", "-c", DELIVER, input=protocol_mail().raw)
        deadline = time.monotonic() + 90
        while not (messages := exec_json(name, "intake", "messages", "--json")) or \
                messages[0]["reply_status"] != "sent":
            assert time.monotonic() < deadline, f"no reply sent: {messages}"
            time.sleep(1)
        assert messages[0]["outcome"] == "confirmed" and len(messages[0]["units"]) == 2
        replies = text_of(podman("exec", name, "ls", f"{DATA}/outbox")).split()
        assert len(replies) == 1 and replies[0].endswith(".eml")

        # SIGTERM: a clean stop, well before podman would kill it
        started = time.monotonic()
        podman("stop", "--time", "30", name, timeout=60)
        TIMINGS["stop"] = f"{time.monotonic() - started:.1f} s"
        assert time.monotonic() - started < 25
        assert text_of(podman("inspect", name, "--format", "{{.State.ExitCode}}")) == "0"

        # started again on the same volume: the schema is migrated again (a no-op), the mail is still there
        podman("start", name)
        TIMINGS["restart to healthy"] = f"{wait_healthy(name, port):.1f} s"
        assert [m["outcome"] for m in exec_json(name, "intake", "messages", "--json")] == ["confirmed"]


def test_image_migrates_postgresql_and_adds_a_coordinator(image: str, postgresql_url: str) -> None:
    """With INTAKE_DATABASE_URL at PostgreSQL (the session's own server), as compose runs it."""
    url = postgresql_url.replace("postgresql://", "postgresql+psycopg://", 1)
    one_off = ["run", "--rm", "--interactive", *run_options(), "--network", "host", "--read-only",
               *environment(SEASON), *environment(LOCAL_MAIL), "--env", f"INTAKE_DATABASE_URL={url}",
               "--env", "INTAKE_SOURCE_MAILDIR=/tmp/maildir", image]
    assert json.loads(text_of(podman(*one_off, "intake", "status", "--json"))) == []
    added = podman(*one_off, "intake", "users", "add", "anna", "--name", "Anna Andersson", "--password-stdin",
                   input=b"ett-langt-losenord\n")
    assert text_of(added) == "anna: kontot är sparat"
    listed = text_of(podman(*one_off, "intake", "users", "list")).split("\t")
    assert listed[:3] == ["anna", "Anna Andersson", "aktiv"]
