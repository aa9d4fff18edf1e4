"""Graph transport: send rendered replies through Microsoft Graph, for tenants without SMTP AUTH.

`POST {graph.base_url}/users/{mailbox}/sendMail` with `Content-Type: text/plain` and the
base64 of the whole MIME message, the very bytes SmtpMailer would hand to the SMTP
server: Message-ID, In-Reply-To, References, the UTF-8 headers and the Swedish text go
out unchanged. The app needs the Graph application permission Mail.Send, limited to the
award mailbox (an application access policy or RBAC for Applications, docs/M365.md).
The mailbox sent as is the one GraphSource reads: `graph.mailbox`, else `award.mailbox`.
Graph keeps a copy of every MIME send in that mailbox's Sent Items; a MIME send has no
switch for it (JSON's saveToSentItems), so there is no setting here either.

How an answer becomes our error (intake.pipeline.send decides what happens next):

- 202 (any 2xx): sent. (Graph has accepted it; Exchange delivers it from there, as an SMTP
  server does after 250.)
- 429, 503, and 504 with Retry-After: throttling, waited out when short (as GraphSource
  does), else TransientSendError; the outbox retries later.
- 401, 408, other 5xx, no connection, no token: TransientSendError.
- 400, 403, 404, 413 and the other 4xx: PermanentSendError with one line that says why.
- No answer after the request went out (a read timeout), or 504 without Retry-After (a
  gateway gave up waiting for Exchange): nobody knows whether Exchange sent the mail.
  SendOutcomeUnknown, deliberately neither transient nor permanent, makes the outbox
  record the reply `uncertain`: never resent automatically, a coordinator decides, so no
  sender is answered twice.

Neither the token nor the mail's text is ever logged or put in an error.
"""

from __future__ import annotations

import base64
import email.utils
import logging
import time
from collections.abc import Callable
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from types import TracebackType
from urllib.parse import quote

import requests

from intake.config import GraphSettings
from intake.domain import OutgoingMail
from intake.errors import ConfigError, IntakeError, PermanentSendError, SendOutcomeUnknown, TransientSendError
from intake.graphapi import describe, error_code, retry_after

log = logging.getLogger(__name__)

THROTTLED = frozenset({429, 503, 504})
GATEWAY_TIMEOUT = 504
MAX_THROTTLE_WAIT = 30.0  # seconds: a longer Retry-After ends this send; the outbox retries later
MAX_THROTTLE_RETRIES = 3
HTTP_ERROR = 400
SERVER_ERROR = 500
UNAUTHORIZED = 401
REQUEST_TIMEOUT = 408  # the server gave up waiting for our request: nothing was sent
SEND_AS_DENIED = "ErrorSendAsDenied"
TOKEN_REFUSED = " (the token was refused: check the app registration, oauth.tenant_id and graph.base_url)"
NO_MAILBOX = " (no such mailbox: check graph.mailbox, or award.mailbox when graph.mailbox is empty)"
SEND_HINTS = {
    401: TOKEN_REFUSED,
    403: " (access denied: the app lacks the Mail.Send application permission with admin consent, "
    "or the mailbox is outside its application access policy or RBAC scope)",
    404: NO_MAILBOX,
    413: " (the mail is larger than Graph accepts)",
}
CHECK_HINTS = {  # `intake check` reads the inbox folder: Mail.Read (or Mail.ReadBasic), not Mail.Send
    401: TOKEN_REFUSED,
    403: " (access denied: the check reads the inbox folder, which needs Mail.Read; or the mailbox is "
    "outside the app's application access policy or RBAC scope)",
    404: NO_MAILBOX,
}


class GraphMailer:
    """A `Mailer` over Microsoft Graph's sendMail (MIME), as one mailbox, with an app-only token."""

    def __init__(
        self,
        settings: GraphSettings,
        mailbox: str,
        token: Callable[[], str],
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not mailbox:
            raise ConfigError("graph.mailbox: missing; expected the shared mailbox's address")
        self.settings = settings
        self.mailbox = mailbox
        self.token = token  # a current access token for Graph on each call (intake.oauth)
        self.base_url = settings.base_url.rstrip("/")
        self.name = f"Graph {self.base_url} as {mailbox}"
        self._session = session or requests.Session()
        self._sleep = sleep

    # --- lifetime ---------------------------------------------------------------------

    def __enter__(self) -> GraphMailer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    # --- sending ----------------------------------------------------------------------

    def send(self, mail: OutgoingMail) -> None:
        """Hand `mail` to Graph; raise TransientSendError, PermanentSendError or SendOutcomeUnknown."""
        _check_recipients(mail)
        body = base64.b64encode(mail.raw)
        response = self._request("POST", self._user_url("/sendMail"), f"send {mail.message_id}",
                                 data=body, content_type="text/plain")
        status = response.status_code
        if status < HTTP_ERROR:
            if not 200 <= status < 300:  # a redirect is not followed: the token would go with it
                raise PermanentSendError(f"{self.name}: could not send {mail.message_id}: unexpected "
                                         f"HTTP {status} (check graph.base_url)")
            log.debug("%s: %s accepted (HTTP %d)", self.name, mail.message_id, status)
            return
        send_as_denied = error_code(response) == SEND_AS_DENIED
        detail = describe(response, {} if send_as_denied else SEND_HINTS)
        message = f"{self.name}: could not send {mail.message_id}: {detail}"
        if status == GATEWAY_TIMEOUT:  # without Retry-After: a gateway gave up waiting for Exchange
            raise SendOutcomeUnknown(f"{message}; Exchange may have sent it")
        if status >= SERVER_ERROR or status in (UNAUTHORIZED, REQUEST_TIMEOUT):
            raise TransientSendError(message)
        if send_as_denied:
            message += f" ({self.mailbox} may not send as the mail's From address: check smtp.from)"
        raise PermanentSendError(message)

    # --- intake check -----------------------------------------------------------------

    def check(self) -> str:
        """One line for `intake check`: a token, and the mailbox reachable, without sending anything.

        Reads only the inbox folder's id (Mail.Read or Mail.ReadBasic, which the Graph source
        needs anyway); Mail.Send itself can only be proven by a send."""
        url = self._user_url("/mailFolders/inbox")
        response = self._request("GET", url, "reach the mailbox", params={"$select": "id"})
        if response.status_code >= HTTP_ERROR:
            raise TransientSendError(f"{self.name}: could not reach the mailbox: "
                                     f"{describe(response, CHECK_HINTS)}")
        return f"{self.name}: token ok, mailbox reachable (Mail.Send is proven by the first send)"

    # --- HTTP -------------------------------------------------------------------------

    def _user_url(self, rest: str) -> str:
        return f"{self.base_url}/users/{quote(self.mailbox, safe='@')}{rest}"

    def _request(
        self,
        method: str,
        url: str,
        what: str,
        *,
        data: bytes | None = None,
        content_type: str | None = None,
        params: dict[str, str] | None = None,
    ) -> requests.Response:
        """One request with a current token; short throttling waited out; the answer, or raise."""
        for attempt in range(MAX_THROTTLE_RETRIES + 1):
            headers = {"Authorization": f"Bearer {self._token()}", "Accept": "application/json"}
            if content_type is not None:
                headers["Content-Type"] = content_type
            try:
                response = self._session.request(
                    method, url, params=params, data=data, headers=headers,
                    timeout=self.settings.timeout, allow_redirects=False,
                )
            except requests.ReadTimeout as exc:
                if method == "GET":
                    raise TransientSendError(f"{self.name}: could not {what}: no answer in "
                                             f"{self.settings.timeout} s") from exc
                raise SendOutcomeUnknown(
                    f"{self.name}: could not {what}: no answer within {self.settings.timeout} s after "
                    "the mail was handed over; Exchange may have sent it"
                ) from exc
            except requests.RequestException as exc:
                # Not connected, refused, reset, TLS: Graph never took the mail.
                raise TransientSendError(
                    f"{self.name}: could not {what}: {type(exc).__name__}: {exc}"
                ) from exc
            status = response.status_code
            # A 504 that names no Retry-After is a gateway that gave up waiting: not throttling.
            said_when = "Retry-After" in response.headers
            if status not in THROTTLED or (status == GATEWAY_TIMEOUT and not said_when):
                return response
            delay = retry_after(response.headers.get("Retry-After"))
            if attempt < MAX_THROTTLE_RETRIES and delay <= MAX_THROTTLE_WAIT:
                log.info("%s: Graph answered %s; retrying in %.0f s", self.name, status, delay)
                self._sleep(delay)
                continue
            raise TransientSendError(
                f"{self.name}: could not {what}: Graph is throttling ({status}, retry after {delay:.0f} s)"
            )
        raise AssertionError("unreachable")

    def _token(self) -> str:
        try:
            return self.token()
        except IntakeError as exc:
            raise TransientSendError(f"{self.name}: {exc}") from exc


def _check_recipients(mail: OutgoingMail) -> None:
    """A MIME send goes to the To, Cc and Bcc of the message itself: they must name every recipient."""
    headers = BytesHeaderParser(policy=default_policy).parsebytes(mail.raw)
    named = set()
    for field in ("To", "Cc", "Bcc"):
        values = [str(value) for value in headers.get_all(field, [])]
        named |= {address.lower() for _, address in email.utils.getaddresses(values) if address}
    missing = [address for address in mail.recipients if address.lower() not in named]
    if missing:
        raise PermanentSendError(
            f"Graph sends a MIME mail to the addresses in its To, Cc and Bcc headers; {mail.message_id} "
            f"does not name {', '.join(missing)} there"
        )
