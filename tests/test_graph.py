"""GraphSource against a local Microsoft Graph stand-in, with tokens from the Entra ID stand-in.

The stand-in serves the few endpoints the source uses, as Graph does: the folder's
messages page by page (server-driven paging with @odata.nextLink), a message's MIME
by `$value`, a message's receivedDateTime; 401 for a token Entra did not issue for
Graph, 403 for a mailbox outside the application access policy, 404 for a mail gone,
and 429/503 with Retry-After on request. It records every request, so the tests can
prove that nothing but GET was ever sent (no mail is marked read).
"""

from __future__ import annotations

import contextlib
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from intake.cli import mailer_opener, make_source
from intake.config import GraphSettings, OAuthSettings, parse_settings
from intake.daemon import Daemon
from intake.errors import MailboxUnavailable
from intake.mailbox.graph import MAX_KEY_LENGTH, VALIDITY, GraphSource
from intake.oauth import OUTLOOK_SCOPE, TokenProvider, graph_scope
from intake.pipeline import import_register
from intake.storage.reports import messages_report
from tests.bot import REGISTER_CSV, protocol_mail
from tests.entra import CLIENT_ID, CLIENT_SECRET, TENANT, Entra

HOST = "127.0.0.1"
MAILBOX = "kvalitetsutmarkelsen@stockholm.se"
PAGE = 2  # messages per page: a handful of mails already needs several pages
JUNE_19 = datetime(2017, 6, 19, 8, 0, tzinfo=UTC)


@dataclass
class StoredMessage:
    id: str
    received: datetime
    raw: bytes
    is_read: bool = False


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    status: int = 0


Answer = tuple[int, dict[str, str], bytes]
DENIED = (403, "ErrorAccessDenied",
          "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.")


@dataclass
class GraphStandIn:
    """Microsoft Graph for one mailbox and its inbox; every request recorded."""

    entra: Entra
    mailbox: str = MAILBOX
    messages: list[StoredMessage] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    throttle: list[tuple[int, str | None]] = field(default_factory=list)  # (status, Retry-After) to answer next
    answers: list[tuple[int, str, str]] = field(default_factory=list)  # (status, code, message) to answer next
    foreign_next_link: bool = False
    scheme: str = "http"
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"{self.scheme}://{HOST}:{self.server.server_address[1]}/v1.0"

    @property
    def scope(self) -> str:
        return graph_scope(self.base_url)

    def add(self, raw: bytes, received: datetime, message_id: str | None = None) -> StoredMessage:
        with self.lock:
            number = len(self.messages) + 1
            message = StoredMessage(
                message_id or f"AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AmNcXZ{number:04d}-_Kvalitet{number}AAA=",
                received, raw,
            )  # fmt: skip
            self.messages.append(message)
        return message

    def remove(self, message: StoredMessage) -> None:
        with self.lock:
            self.messages.remove(message)

    # --- the HTTP side ------------------------------------------------------------------

    def record(self, request: Request) -> None:
        with self.lock:
            self.requests.append(request)

    def refusal(self, request: Request) -> Answer | None:
        """What Graph answers before it looks at the request: throttling (or an answer a test asked
        for), then a token Entra did not issue for Graph."""
        with self.lock:
            if self.throttle:
                status, retry_after = self.throttle.pop(0)
                status_answer = graph_error(status, "TooManyRequests" if status == 429 else "ServiceUnavailable",
                                       "Application is over its MailboxConcurrency limit.")  # fmt: skip
                if retry_after is not None:
                    status_answer[1]["Retry-After"] = retry_after
                return status_answer
            if self.answers:
                return graph_error(*self.answers.pop(0))
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not self.entra.valid(token, self.scope):
            return graph_error(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
        return None

    def answer(self, request: Request) -> Answer:
        if request.method != "GET":
            return graph_error(405, "ErrorInvalidRequest", "The OData request is not supported.")
        refused = self.refusal(request)
        if refused is not None:
            return refused
        parts = request.path.split("/")  # /v1.0/users/{m}/mailFolders/{f}/messages[/{id}[/$value]]
        if len(parts) < 7 or parts[1:3] != ["v1.0", "users"] or parts[4] != "mailFolders" or parts[6] != "messages":
            return graph_error(400, "BadRequest", "Resource not found for the segment.")
        if unquote(parts[3]).lower() != self.mailbox:
            return graph_error(*DENIED)
        if unquote(parts[5]).lower() != "inbox":
            return graph_error(404, "ErrorInvalidIdMalformed", "Id is malformed.")
        if len(parts) == 7:
            return self.listing(request)
        with self.lock:
            found = next((m for m in self.messages if m.id == unquote(parts[7])), None)
        if found is None:
            return graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        if len(parts) == 9 and parts[8] == "$value":
            return 200, {"Content-Type": "text/plain"}, found.raw  # Graph says text/plain for MIME
        return _json(200, {"id": found.id, "receivedDateTime": _stamp(found.received), "isRead": found.is_read})

    def listing(self, request: Request) -> Answer:
        assert request.query.get("$select") == "id,receivedDateTime", request.query
        start = int(request.query.get("$skiptoken", "0"))
        with self.lock:
            ordered = sorted(self.messages, key=lambda m: m.received)
            page = ordered[start : start + PAGE]
            more = start + PAGE < len(ordered)
        body: dict[str, Any] = {
            "@odata.context": f"{self.base_url}/$metadata#users('{self.mailbox}')/mailFolders('inbox')/messages",
            "value": [{"@odata.etag": 'W/"CQAAABYAAAA"', "id": m.id, "receivedDateTime": _stamp(m.received)}
                      for m in page],
        }  # fmt: skip
        if more:
            base = "http://graph.example.org/v1.0" if self.foreign_next_link else self.base_url
            body["@odata.nextLink"] = (
                f"{base}/users/{self.mailbox}/mailFolders/inbox/messages"
                f"?%24select=id%2CreceivedDateTime&%24top=500&%24skiptoken={start + PAGE}"
            )
        return _json(200, body)

    def get_requests(self) -> list[Request]:
        with self.lock:
            return list(self.requests)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json(status: int, payload: dict[str, Any]) -> Answer:
    return status, {"Content-Type": "application/json; odata.metadata=minimal"}, json.dumps(payload).encode()


def graph_error(status: int, code: str, message: str) -> Answer:
    return _json(status, {"error": {"code": code, "message": message,
                                    "innerError": {"request-id": "0000", "date": "2017-06-19T08:00:00"}}})  # fmt: skip


def _handler(graph: GraphStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            pass

        def _serve(self) -> None:
            url = urlsplit(self.path)
            query = {key: values[0] for key, values in parse_qs(url.query).items()}
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request = Request(self.command, url.path, query, {k.lower(): v for k, v in self.headers.items()}, body)
            graph.record(request)
            status, headers, payload = graph.answer(request)
            request.status = status
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up waiting (a read-timeout test)

        do_GET = do_PATCH = do_POST = do_DELETE = _serve  # noqa: N815 - the stdlib's names

    return Handler


@contextlib.contextmanager
def serve(stand_in: GraphStandIn, certificate: tuple[Path, Path] | None = None) -> Iterator[None]:
    """Serve `stand_in` on 127.0.0.1 (over HTTPS with `certificate`) while in the block."""
    server = ThreadingHTTPServer((HOST, 0), _handler(stand_in))
    server.daemon_threads = True
    if certificate is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*certificate)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        stand_in.scheme = "https"
    stand_in.server = server
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def entra(smtp_certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Entra]:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(smtp_certificate[0]))
    server = Entra(smtp_certificate).start()
    yield server
    server.stop()


@pytest.fixture
def graph(entra: Entra) -> Iterator[GraphStandIn]:
    stand_in = GraphStandIn(entra)
    with serve(stand_in):
        yield stand_in


@pytest.fixture
def provider(entra: Entra, tmp_path: Path) -> TokenProvider:
    return TokenProvider(OAuthSettings(tenant_id=TENANT, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                       authority=entra.authority, token_cache=str(tmp_path / "tokens.json")))


class Sleeps(list[float]):
    """A stand-in for time.sleep that records how long the source wanted to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_graph_source(graph: GraphStandIn, provider: TokenProvider, sleeps: Sleeps, **overrides: Any) -> GraphSource:
    settings = replace(GraphSettings(base_url=graph.base_url, poll_interval=7, timeout=5), **overrides)
    return GraphSource(settings, MAILBOX, provider.source(graph.scope), sleep=sleeps)


@pytest.fixture
def source(graph: GraphStandIn, provider: TokenProvider, sleeps: Sleeps) -> Iterator[GraphSource]:
    made = make_graph_source(graph, provider, sleeps)
    yield made
    made.close()


def raw_mail(subject: str) -> bytes:
    return (
        f"From: Lena Murray <lena.murray@stockholm.se>\r\nTo: {MAILBOX}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{abs(hash(subject))}@stockholm.se>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Hej! Protokollsutdraget för Förskolan Äppelgården är bifogat.\r\n"
    ).encode()


# --- listing and fetching ----------------------------------------------------------------


def test_snapshot_follows_every_page_oldest_first(graph: GraphStandIn, source: GraphSource, entra: Entra) -> None:
    # Added out of order: the listing is by arrival, not by insertion.
    stored = [graph.add(raw_mail(f"Mejl {n}"), JUNE_19 + timedelta(minutes=m)) for n, m in
              enumerate([30, 10, 50, 20, 40])]  # fmt: skip
    validity, keys = source.snapshot()
    assert validity == VALIDITY
    assert keys == [m.id for m in sorted(stored, key=lambda m: m.received)]
    listings = [r for r in graph.get_requests() if r.path.endswith("/messages")]
    assert len(listings) == 3  # 5 mails, 2 a page
    assert listings[0].query["$orderby"] == "receivedDateTime asc"
    assert all(r.headers["prefer"] == 'IdType="ImmutableId"' for r in listings)
    assert entra.token_count() == 1  # one token for every request


def test_fetch_returns_the_mime_bytes_and_arrival_without_marking_read(
    graph: GraphStandIn, source: GraphSource
) -> None:
    first = graph.add(raw_mail("Protokollsutdrag SN § 9"), JUNE_19)
    second = graph.add(raw_mail("Protokollsutdrag ÄN § 4"), JUNE_19 + timedelta(hours=1))
    _, keys = source.snapshot()
    fetched = list(source.fetch(keys))
    assert [m.raw for m in fetched] == [first.raw, second.raw]
    assert [m.received_at for m in fetched] == [JUNE_19, JUNE_19 + timedelta(hours=1)]
    assert fetched[0].ref.source == f"graph:{MAILBOX}/inbox"
    assert [m.ref.key for m in fetched] == [first.id, second.id]
    assert {r.method for r in graph.get_requests()} == {"GET"}
    assert not first.is_read and not second.is_read
    assert [r.path.endswith("/$value") for r in graph.get_requests()].count(True) == 2


def test_fetch_without_a_listing_asks_for_the_arrival_time(
    graph: GraphStandIn, provider: TokenProvider, sleeps: Sleeps
) -> None:
    message = graph.add(raw_mail("Sen"), JUNE_19)
    fresh = make_graph_source(graph, provider, sleeps)  # e.g. after a restart between list and fetch
    [fetched] = fresh.fetch([message.id])
    assert fetched.received_at == JUNE_19
    assert fetched.raw == message.raw


def test_a_mail_removed_meanwhile_is_skipped(graph: GraphStandIn, source: GraphSource) -> None:
    kept = graph.add(raw_mail("Kvar"), JUNE_19)
    gone = graph.add(raw_mail("Borta"), JUNE_19 + timedelta(minutes=1))
    _, keys = source.snapshot()
    graph.remove(gone)
    assert [m.ref.key for m in source.fetch(keys)] == [kept.id]


def test_an_id_too_long_for_the_database_is_kept_as_a_hash(graph: GraphStandIn, source: GraphSource) -> None:
    message = graph.add(raw_mail("Långt id"), JUNE_19, message_id="AAMk" + "x" * 300)
    _, [key] = source.snapshot()
    assert key.startswith("sha256:") and len(key) <= MAX_KEY_LENGTH
    [fetched] = source.fetch([key])
    assert fetched.raw == message.raw and fetched.ref.key == key


def test_empty_folder(source: GraphSource) -> None:
    assert source.snapshot() == (VALIDITY, [])
    assert list(source.fetch([])) == []


def test_wait_polls_every_poll_interval(source: GraphSource, sleeps: Sleeps) -> None:
    assert source.wait(60) is False
    assert source.wait(3) is False
    assert sleeps == [7, 3]


# --- throttling and errors -------------------------------------------------------------------


def test_throttled_once_is_retried_after_retry_after(
    graph: GraphStandIn, source: GraphSource, sleeps: Sleeps
) -> None:
    message = graph.add(raw_mail("Strypt"), JUNE_19)
    graph.throttle.append((429, "2"))
    _, keys = source.snapshot()
    assert keys == [message.id]
    assert sleeps == [2.0]
    assert [r.status for r in graph.get_requests()] == [429, 200]


def test_service_unavailable_without_retry_after_waits_a_little(
    graph: GraphStandIn, source: GraphSource, sleeps: Sleeps
) -> None:
    message = graph.add(raw_mail("Strypt"), JUNE_19)
    _, keys = source.snapshot()
    graph.throttle.append((503, None))
    assert [m.raw for m in source.fetch(keys)] == [message.raw]
    assert sleeps == [5.0]


def test_long_throttling_is_mailbox_unavailable(graph: GraphStandIn, source: GraphSource, sleeps: Sleeps) -> None:
    graph.throttle.append((429, "120"))
    with pytest.raises(MailboxUnavailable, match=r"Graph is throttling \(429, retry after 120 s\)"):
        source.snapshot()
    assert sleeps == []


def test_endless_throttling_gives_up(graph: GraphStandIn, source: GraphSource, sleeps: Sleeps) -> None:
    graph.throttle.extend([(503, "1")] * 10)
    with pytest.raises(MailboxUnavailable, match="throttling"):
        source.snapshot()
    assert sleeps == [1.0, 1.0, 1.0]


def test_token_for_another_resource_is_refused(
    graph: GraphStandIn, provider: TokenProvider, sleeps: Sleeps
) -> None:
    settings = GraphSettings(base_url=graph.base_url, timeout=5)
    wrong = GraphSource(settings, MAILBOX, provider.source(OUTLOOK_SCOPE), sleep=sleeps)
    with pytest.raises(MailboxUnavailable, match=r"HTTP 401 InvalidAuthenticationToken: .*Invalid audience"):
        wrong.snapshot()


def test_mailbox_outside_the_access_policy_is_explained(
    graph: GraphStandIn, provider: TokenProvider, sleeps: Sleeps
) -> None:
    settings = GraphSettings(base_url=graph.base_url, timeout=5)
    other = GraphSource(settings, "vd@stockholm.se", provider.source(graph.scope), sleep=sleeps)
    with pytest.raises(MailboxUnavailable) as caught:
        other.snapshot()
    message = str(caught.value)
    assert "HTTP 403 ErrorAccessDenied" in message
    assert "application access policy" in message
    assert "\n" not in message


def test_wrong_folder_is_mailbox_unavailable(graph: GraphStandIn, provider: TokenProvider, sleeps: Sleeps) -> None:
    wrong = make_graph_source(graph, provider, sleeps, folder="Inkorgen")
    with pytest.raises(MailboxUnavailable, match="not found .check graph.mailbox and graph.folder"):
        wrong.snapshot()


def test_next_link_to_another_host_is_refused(graph: GraphStandIn, source: GraphSource) -> None:
    for minute in range(3):
        graph.add(raw_mail(f"Mejl {minute}"), JUNE_19 + timedelta(minutes=minute))
    graph.foreign_next_link = True
    with pytest.raises(MailboxUnavailable, match="outside http://127.0.0.1"):
        source.snapshot()


def test_no_token_is_mailbox_unavailable(graph: GraphStandIn, entra: Entra, tmp_path: Path, sleeps: Sleeps) -> None:
    broken = TokenProvider(OAuthSettings(tenant_id=TENANT, client_id=CLIENT_ID, client_secret="fel",
                                         authority=entra.authority, token_cache=""))  # fmt: skip
    source = make_graph_source(graph, broken, sleeps)
    with pytest.raises(MailboxUnavailable, match="AADSTS7000215"):
        source.snapshot()
    assert graph.get_requests() == []


def test_unreachable_graph_is_mailbox_unavailable(provider: TokenProvider, sleeps: Sleeps) -> None:
    from tests.dovecot import free_port

    settings = GraphSettings(base_url=f"http://{HOST}:{free_port()}/v1.0", timeout=2)
    source = GraphSource(settings, MAILBOX, lambda: "token", sleep=sleeps)
    with pytest.raises(MailboxUnavailable, match="could not list the folder"):
        source.snapshot()


# --- a whole poll through the pipeline, wired by the cli ----------------------------------------


def test_a_poll_reads_graph_and_answers(graph: GraphStandIn, entra: Entra, tmp_path: Path) -> None:
    from intake.cli import make_context

    text = f"""
[award]
year = 2017
mailbox = "{MAILBOX}"
protocol_deadline = 2017-06-30
[source]
kind = "graph"
[graph]
base_url = "{graph.base_url}"
poll_interval = 1
[oauth]
tenant_id = "{TENANT}"
client_id = "{CLIENT_ID}"
authority = "{entra.authority}"
token_cache = "{tmp_path / 'tokens.json'}"
[outbox]
transport = "files"
path = "{tmp_path / 'outbox'}"
[processing]
workers = 1
[database]
url = "sqlite:///{tmp_path / 'intake.db'}"
"""
    settings = parse_settings(text, {"INTAKE_OAUTH_CLIENT_SECRET": CLIENT_SECRET})
    ctx = make_context(settings, {})
    import_register(ctx, "register.csv", REGISTER_CSV.encode(), actor="test")
    protocol = protocol_mail()
    graph.add(protocol.raw, JUNE_19)
    graph.throttle.append((429, "0"))  # Graph is busy once; the poll goes on

    source = make_source(settings)
    assert isinstance(source, GraphSource)
    daemon = Daemon(ctx, source, mailer_opener(settings), wait_seconds=1)
    try:
        report = daemon.run_once()
        assert (report.stored, report.processed, report.sent) == (1, 1, 1)
        assert daemon.run_once().stored == 0  # the database, not the mailbox, knows what is new
    finally:
        source.close()

    with ctx.sessions.begin() as session:
        [row] = messages_report(session)
    assert row["outcome"] == "confirmed"
    assert row["received_at"].startswith("2017-06-19T")
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    assert {r.method for r in graph.get_requests()} == {"GET"}
    assert not graph.messages[0].is_read
    assert entra.token_count() == 1
    assert (tmp_path / "tokens.json").stat().st_mode & 0o777 == 0o600
