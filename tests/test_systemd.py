"""deploy/intake.service, run: under a real systemd (PID 1 in a podman container), installed as
docs/DEPLOY.md section 11 tells an admin.

The image (tests/containers/systemd) is the test's debootstrap Debian bookworm base with systemd,
the Debian packages and PostgreSQL that section names, and the program in /opt/intake, installed
with pip from a copy of this checkout in /srv/intake-src. In the running container, with systemd
as PID 1, the test then does the rest of the section as root: the system user `intake`, a
PostgreSQL role and database with a password, /etc/intake/intake.toml and /etc/intake/intake.env
(deploy/intake.env.example with the test's season, a Maildir instead of IMAP and reply files
instead of SMTP, and INTAKE_DATABASE_URL), the unit copied unchanged, `systemctl enable --now intake`.

It proves: the unit becomes active; the bot runs as `intake` with the unit's hardening really
applied (its own mount namespace, `/` read-only but /var/lib/intake, a private /tmp and /dev, no
capabilities, no_new_privs, a seccomp filter); /healthz answers on 127.0.0.1:8080 with the database
up; DEPLOY.md's `intake-admin` (systemd-run as the service user) imports the register; a mail
dropped in the Maildir gets its reply file; `systemctl stop` ends it cleanly (exit 0, well within
TimeoutStopSec) with its start and stop lines in `journalctl -u intake`; `systemctl restart` works;
and after the container's systemd is shut down and booted again, the enabled unit starts by itself.

The container gets CAP_SYS_ADMIN (and nothing else beyond podman's defaults): without it, systemd
cannot unshare a mount namespace ("Failed to unshare the mount namespace: Operation not permitted",
"Failed to set up namespace, assuming containerized execution and ignoring") nor a UTS one
("ProtectHostname=yes is configured, but UTS namespace setup is prohibited"), and silently runs the
bot without ProtectSystem=, ProtectHome=, PrivateTmp=, PrivateDevices=, ReadWritePaths=,
ProtectKernel*=, ProtectControlGroups= and ProtectHostname=. On a real server systemd has every
capability; with SYS_ADMIN the container's systemd sets all of them up, and the test checks it did.
No directive of the unit is overridden.

About 30 s once the image is there (built once, about a minute; then its layers are reused). Skipped,
with the reason, where podman cannot work (tests/test_container.py's reasons), where podman cannot
boot systemd, and when INTAKE_TEST_CONTAINER=0.
"""

from __future__ import annotations

import fcntl
import json
import secrets
import shlex
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.bot import REGISTER_CSV, protocol_mail
from tests.test_compose import env_file
from tests.test_container import (
    BASE_CACHE,
    DATA,
    DELIVER,
    DEPLOY,
    ROOT,
    ca_bundle,
    make_base,
    podman,
    podman_problem,
    run_options,
    text_of,
)

CONTEXT = ROOT / "tests" / "containers" / "systemd"
IMAGE_TAG = "localhost/intake-test-systemd:latest"  # kept, so the next run reuses its layers
UNIT = "/etc/systemd/system/intake.service"
SRC = "/srv/intake-src"
TIMEOUT_STOP = 60  # the unit's TimeoutStopSec
TIMINGS: dict[str, str] = {}

# docs/DEPLOY.md section 11, as root, after the packages and the virtualenv (in the image). The env
# file comes on stdin (the example, edited); the database password in $PW.
INSTALL = f"""
set -e
useradd --system --home-dir /var/lib/intake --shell /usr/sbin/nologin intake
runuser -u postgres -- psql -q -c "CREATE ROLE intake LOGIN PASSWORD '$PW'"
runuser -u postgres -- createdb --owner intake intake
install -d -m 0755 /etc/intake
install -m 0644 {SRC}/deploy/intake.toml /etc/intake/intake.toml
install -m 0640 -g intake {SRC}/deploy/intake.env.example /etc/intake/intake.env
cat > /etc/intake/intake.env
install -m 0644 {SRC}/deploy/intake.service {UNIT}
systemctl daemon-reload
systemctl enable --now intake
"""
# DEPLOY.md's intake-admin alias (--pipe instead of --pty: no terminal here)
ADMIN = ["systemd-run", "--quiet", "--pipe", "--wait", "--collect", "-p", "User=intake",
         "-p", "WorkingDirectory=/var/lib/intake", "-p", "EnvironmentFile=/etc/intake/intake.env",
         "-E", "INTAKE_CONFIG=/etc/intake/intake.toml", "/opt/intake/bin/intake"]
HEALTHZ = """
import json, urllib.request
with urllib.request.urlopen("http://127.0.0.1:8080/healthz", timeout=3) as r:
    print(json.dumps({**json.loads(r.read()), "http": r.status}))
"""
# What the bot's own process sees (root with every capability reads another user's namespaces).
SANDBOX = """
P=$(systemctl show -p MainPID --value intake)
echo "init-dev: $(ls /dev | tr "\\n" " ")"
readlink /proc/1/ns/mnt /proc/$P/ns/mnt /proc/1/ns/uts /proc/$P/ns/uts
grep -E '^(Uid|NoNewPrivs|Seccomp|CapEff|CapBnd):' /proc/$P/status
nsenter -t $P -m -S $(id -u intake) -G $(id -g intake) sh -c \
  'for d in / /usr /etc /var/lib/intake /tmp; do touch $d/.w 2>/dev/null && rm $d/.w && echo "rw $d" || echo "ro $d"; done
   echo "tmp: $(ls -A /tmp | tr "\\n" " ")"; echo "dev: $(ls /dev | tr "\\n" " ")"'
"""


@pytest.fixture(scope="module")
def systemd_image(request: pytest.FixtureRequest) -> Iterator[str]:
    """The id of the image built from tests/containers/systemd on the test's base."""
    problem = podman_problem()
    if problem:
        pytest.skip(f"deploy/intake.service not run under systemd: {problem}")
    base = make_base()
    build = ["build", "--isolation", "chroot", "--format", "docker", "--build-arg", f"BASE_IMAGE={base}",
             "--tag", IMAGE_TAG, "--iidfile", str(BASE_CACHE / "systemd.iid"), "--file", str(CONTEXT / "Dockerfile")]
    bundle = ca_bundle()
    if bundle:  # pip's traffic passes a re-signing proxy here, as in tests/test_container.py
        build += ["--secret", f"id=ca_bundle,src={bundle}"]
    started = time.monotonic()
    with open(BASE_CACHE / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time, as tests/test_container.py's
        previous = podman("image", "inspect", IMAGE_TAG, "--format", "{{.Id}}", check=False)
        podman(*build, str(ROOT), timeout=1800)
        built = (BASE_CACHE / "systemd.iid").read_text().strip().removeprefix("sha256:")
    # The image stays tagged (it carries the base's label, so it goes when the base is renewed);
    # the one it replaced goes now.
    if previous.returncode == 0 and text_of(previous) not in ("", built):
        podman("rmi", text_of(previous), check=False)
    TIMINGS["build"] = f"{time.monotonic() - started:.0f} s"
    yield built
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # the measurements, in every run's output
            reporter.write_line("\nsystemd test: " + ", ".join(f"{k} {v}" for k, v in TIMINGS.items()))


class Machine:
    """A container whose PID 1 is systemd."""

    def __init__(self, name: str) -> None:
        self.name = name

    def sh(self, script: str, *, input: bytes | None = None, check: bool = True, privileged: bool = False,
           user: str | None = None, timeout: float = 120) -> str:
        options = ["--interactive"] * (input is not None) + ["--privileged"] * privileged
        options += ["--user", user] if user else []
        return text_of(podman("exec", *options, self.name, "sh", "-c", script, input=input, check=check,
                              timeout=timeout))

    def admin(self, *args: str, input: bytes | None = None) -> str:
        return self.sh(shlex.join([*ADMIN, *args]), input=input)

    def show(self, *properties: str) -> dict[str, str]:
        out = self.sh(f"systemctl show intake {' '.join('-p ' + p for p in properties)}")
        return dict(line.split("=", 1) for line in out.splitlines())

    def journal(self) -> str:
        return self.sh("journalctl -u intake --no-pager -o cat")

    def wait_booted(self, timeout: float = 90) -> float:
        started = time.monotonic()
        while (state := self.sh("systemctl is-system-running", check=False)) not in ("running", "degraded"):
            if time.monotonic() - started > timeout:
                pytest.fail(f"systemd not up after {timeout} s: {state}\n"
                            + self.sh("systemctl --failed --no-pager", check=False))
            time.sleep(0.5)
        assert state == "running", self.sh("systemctl --failed --no-pager", check=False)
        return time.monotonic() - started

    def wait_healthy(self, timeout: float = 60) -> tuple[float, dict[str, Any]]:
        """Seconds until the unit is active and /healthz answers 200 inside the machine."""
        started = time.monotonic()
        while True:
            active = self.sh("systemctl is-active intake", check=False)
            answer = self.sh(f"python3 -c {shlex.quote(HEALTHZ)}", check=False) if active == "active" else ""
            if answer.startswith("{") and (body := json.loads(answer))["http"] == 200:
                return time.monotonic() - started, body
            if active == "failed" or time.monotonic() - started > timeout:
                pytest.fail(f"intake {active}, /healthz {answer!r} after {time.monotonic() - started:.0f} s:\n"
                            + self.sh("systemctl status intake --no-pager; journalctl -u intake --no-pager -n 40",
                                      check=False))
            time.sleep(0.3)


@pytest.fixture
def machine(systemd_image: str) -> Iterator[Machine]:
    name = f"intake-test-systemd-{uuid.uuid4().hex[:12]}"
    try:
        started = podman("run", "--detach", "--name", name, *run_options(), "--systemd=always",
                         # what systemd needs to give the unit its namespaces (see the module's docstring)
                         "--cap-add", "SYS_ADMIN", "--network", "none", systemd_image, "/sbin/init", check=False)
        if started.returncode != 0:
            pytest.skip("podman cannot boot systemd here: "
                        + (started.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1])
        machine = Machine(name)
        TIMINGS["boot"] = f"{machine.wait_booted():.1f} s"
        yield machine
    finally:
        podman("rm", "--force", "--time", "0", name, check=False)


def test_unit_runs_hardened_under_systemd_answers_a_mail_stops_and_restarts(machine: Machine) -> None:
    password = secrets.token_hex(16)
    env = env_file((DEPLOY / "intake.env.example").read_text(encoding="utf-8"))
    env += f"INTAKE_DATABASE_URL=postgresql+psycopg://intake:{password}@127.0.0.1:5432/intake\n"
    machine.sh(f"PW={password}\n{INSTALL}", input=env.encode())
    # the unit is the checkout's, byte for byte, and enabled
    assert machine.sh(f"cat {UNIT}") == (DEPLOY / "intake.service").read_text(encoding="utf-8").strip()
    assert machine.sh("systemctl is-enabled intake") == "enabled"
    assert machine.sh("stat -c '%a %U:%G' /etc/intake/intake.env") == "640 root:intake"
    took, body = machine.wait_healthy()
    TIMINGS["enable to healthy"] = f"{took:.1f} s"
    assert body["database"] is True

    # as the unit's user, with its sandbox really set up (no "assuming containerized execution")
    uid = machine.sh("id -u intake")
    props = machine.show("MainPID", "User", "NRestarts")
    assert props["User"] == "intake" and props["NRestarts"] == "0"
    assert machine.sh(f"stat -c %u /proc/{props['MainPID']}") == uid
    init_dev, *lines = [line.strip() for line in machine.sh(SANDBOX, privileged=True).splitlines()]
    init_mnt, bot_mnt, init_uts, bot_uts = lines[:4]
    assert init_mnt != bot_mnt and init_uts != bot_uts, lines
    status = dict(line.split(":", 1) for line in lines[4:9])
    assert status["Uid"].split() == [uid] * 4
    assert (status["NoNewPrivs"].strip(), status["Seccomp"].strip()) == ("1", "2")
    assert int(status["CapEff"], 16) == 0 and int(status["CapBnd"], 16) == 0
    assert lines[9:14] == ["ro /", "ro /usr", "ro /etc", f"rw {DATA}", "rw /tmp"]
    assert lines[14] == "tmp:"  # a /tmp of its own, empty
    # PrivateDevices: a /dev of its own, with the pseudo-devices only (not the machine's FIFO /dev/initctl)
    devices = lines[15].removeprefix("dev:").split()
    assert "initctl" in init_dev.split() and "initctl" not in devices and {"null", "urandom"} <= set(devices)
    journal = machine.journal()
    assert "Failed to set up namespace" not in journal and "prohibited" not in journal, journal

    # DEPLOY.md's intake-admin: the register, imported as the service user
    machine.sh("cat > /tmp/register.csv && chmod 0644 /tmp/register.csv", input=REGISTER_CSV.encode())
    assert machine.admin("units", "import", "/tmp/register.csv").startswith("3 tillagda")

    # a mail dropped in the Maildir (by its owner, as a delivery agent would): confirmed, answered
    machine.sh(f"python3 -c {shlex.quote(DELIVER)}", input=protocol_mail().raw, user="intake")
    deadline = time.monotonic() + 90
    while not machine.sh(f"ls {DATA}/outbox 2>/dev/null", check=False):
        assert time.monotonic() < deadline, machine.journal()[-3000:]
        time.sleep(1)
    assert machine.sh(f"ls {DATA}/outbox").split()[0].endswith(".eml")
    messages = json.loads(machine.admin("messages", "--json"))
    assert [(m["outcome"], m["reply_status"], len(m["units"])) for m in messages] == [("confirmed", "sent", 2)]

    # systemctl stop: SIGTERM, a clean exit well within TimeoutStopSec, its lines in the journal
    started = time.monotonic()
    machine.sh("systemctl stop intake", timeout=TIMEOUT_STOP + 30)
    stop = time.monotonic() - started
    TIMINGS["stop"] = f"{stop:.1f} s"
    assert stop < TIMEOUT_STOP / 2
    assert machine.show("ActiveState", "Result", "ExecMainCode", "ExecMainStatus") == {
        "ActiveState": "inactive", "Result": "success", "ExecMainCode": "1", "ExecMainStatus": "0"}  # 1: exited
    journal = machine.journal()
    for line in ("Started intake.service", "INFO intake.web.app: web desk on http://127.0.0.1:8080/",
                 "INFO intake.daemon: watching maildir:/var/lib/intake/maildir",
                 "Stopping intake.service", "INFO intake.daemon: stopping (signal 15)", "INFO intake.daemon: stopped",
                 "intake.service: Deactivated successfully.", "Stopped intake.service"):
        assert line in journal, f"{line!r} not in journal:\n{journal[-3000:]}"

    # start, then restart: a new process, healthy again, the same database
    machine.sh("systemctl start intake")
    machine.wait_healthy()
    before = machine.show("MainPID")["MainPID"]
    machine.sh("systemctl restart intake", timeout=TIMEOUT_STOP + 30)
    TIMINGS["restart to healthy"] = f"{machine.wait_healthy()[0]:.1f} s"
    assert machine.show("MainPID")["MainPID"] not in (before, "0")
    assert machine.journal().count("INFO intake.daemon: stopped") == 2

    # the machine shut down (systemd stops the bot) and booted again: the enabled unit starts by itself
    podman("stop", "--time", str(TIMEOUT_STOP + 30), machine.name, timeout=TIMEOUT_STOP + 60)
    podman("start", machine.name)
    machine.wait_booted()
    TIMINGS["boot to healthy"] = f"{machine.wait_healthy()[0]:.1f} s"
    assert [m["outcome"] for m in json.loads(machine.admin("messages", "--json"))] == ["confirmed"]
