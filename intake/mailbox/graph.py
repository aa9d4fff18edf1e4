"""Read one folder of a shared Exchange Online mailbox through Microsoft Graph, as a MailSource.

For tenants that turned IMAP off. The app reads with an application permission
(Mail.Read, limited to the one mailbox by an application access policy or RBAC for
Applications) and a client-credentials token from intake.oauth.

- snapshot(): GET /users/{mailbox}/mailFolders/{folder}/messages with only `id` and
  `receivedDateTime`, oldest first, following `@odata.nextLink` page by page.
- fetch(): GET .../messages/{id}/$value, the MIME bytes exactly as Exchange keeps them.
  Nothing is ever PATCHed, so `isRead` and every flag stay as they are.
- Ids are asked for as immutable ids (`Prefer: IdType="ImmutableId"`), so a mail keeps
  its key when someone moves it and back; the database decides what is new.
- wait(): Graph has no IDLE for an app; the bot polls every `graph.poll_interval` seconds.

Throttling (429, 503, 504) is waited out when the server's Retry-After is short, and
otherwise reported as MailboxUnavailable, like every other failure here, so the
daemon retries later.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from intake.config import GraphSettings
from intake.domain import MailboxRef, RawMail
from intake.errors import ConfigError, IntakeError, MailboxUnavailable
from intake.graphapi import describe, retry_after

log = logging.getLogger(__name__)

VALIDITY = "immutable-id"  # immutable ids are never reused: like Maildir, one constant validity
PAGE_SIZE = 500  # messages per listing page; Graph may send fewer and a nextLink
MAX_KEY_LENGTH = 200  # the sightings table's key column; longer ids are kept as a hash
THROTTLED = frozenset({429, 503, 504})
MAX_THROTTLE_WAIT = 30.0  # seconds: a longer Retry-After ends the poll; the daemon retries later
MAX_THROTTLE_RETRIES = 3
NOT_FOUND = 404
READ_HINTS = {
    401: " (the token was refused: check the app registration and oauth.tenant_id)",
    403: " (access denied: Mail.Read with admin consent, and the application access policy "
    "or RBAC scope must include this mailbox)",
}
HTTP_ERROR = 400


class GraphSource:
    """One mail folder of one mailbox, read-only, through Microsoft Graph."""

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
        self.token = token
        self.base_url = settings.base_url.rstrip("/")
        self.name = f"graph:{mailbox}/{settings.folder}"
        self._origin = _origin(self.base_url)
        self._session = session or requests.Session()
        self._sleep = sleep
        # From the last snapshot: key -> (message id, receivedDateTime), so fetch() needs
        # no second request per mail for the arrival time.
        self._listed: dict[str, tuple[str, datetime | None]] = {}

    # --- the MailSource protocol ----------------------------------------------------

    def snapshot(self) -> tuple[str, list[str]]:
        query = {
            "$select": "id,receivedDateTime",
            "$orderby": "receivedDateTime asc",
            "$top": str(PAGE_SIZE),
        }
        url: str | None = self._folder_url("/messages")
        params: dict[str, str] | None = query
        found: list[tuple[datetime, str, str]] = []
        while url is not None:
            page = self._json("list the folder", url, params)
            for item in page.get("value", []):
                message_id = item.get("id")
                if isinstance(message_id, str) and message_id:
                    received = _instant(item.get("receivedDateTime"))
                    found.append((received or datetime.min.replace(tzinfo=UTC), _key(message_id), message_id))
            url, params = self._next_link(page.get("@odata.nextLink")), None
        found.sort()  # arrival order, as the protocol wants, whatever order the pages came in
        self._listed = {key: (message_id, received) for received, key, message_id in found}
        return VALIDITY, [key for _, key, _ in found]

    def fetch(self, keys: Sequence[str]) -> Iterator[RawMail]:
        """Yield the mails still in the folder, in the order of `keys`; removed ones are skipped."""
        for key in keys:
            listed = self._listed.get(key)
            if listed is None and key.startswith("sha256:"):
                log.debug("%s: %s was not in the last listing", self.name, key)
                continue
            message_id, received = listed if listed is not None else (key, None)
            path = f"/messages/{quote(message_id, safe='')}"
            raw = self._bytes("fetch a mail", self._folder_url(f"{path}/$value"))
            if raw is None:
                log.debug("%s is no longer in %s", key, self.name)
                continue
            if received is None:  # not listed by this instance: ask for its arrival time
                details = self._get(
                    "read a mail's arrival time", self._folder_url(path), {"$select": "receivedDateTime"},
                    accept="application/json",
                )
                received = _instant(details.json().get("receivedDateTime")) if details is not None else None
            yield RawMail(MailboxRef(self.name, VALIDITY, key), raw, received)

    def wait(self, timeout: float) -> bool:
        """Sleep until the next poll: min(timeout, graph.poll_interval). Graph cannot signal a change."""
        self._sleep(max(0.0, min(timeout, float(self.settings.poll_interval))))
        return False

    def close(self) -> None:
        self._session.close()

    # --- HTTP -------------------------------------------------------------------------

    def _folder_url(self, rest: str) -> str:
        mailbox = quote(self.mailbox, safe="@")
        folder = quote(self.settings.folder, safe="")
        return f"{self.base_url}/users/{mailbox}/mailFolders/{folder}{rest}"

    def _next_link(self, link: Any) -> str | None:
        if not link:
            return None
        if not isinstance(link, str) or _origin(link) != self._origin:
            # Never send the bearer token anywhere but the configured Graph endpoint.
            raise MailboxUnavailable(f"{self.name}: Graph sent a next page outside {self._origin}: {link!r}")
        return link

    def _json(self, what: str, url: str, params: dict[str, str] | None) -> dict[str, Any]:
        response = self._get(what, url, params, accept="application/json")
        if response is None:
            raise MailboxUnavailable(
                f"could not {what} in {self.name}: not found (check graph.mailbox and graph.folder)"
            )
        try:
            data = response.json()
        except ValueError as exc:
            raise MailboxUnavailable(f"could not {what} in {self.name}: the answer is not JSON") from exc
        if not isinstance(data, dict):
            raise MailboxUnavailable(f"could not {what} in {self.name}: unexpected answer")
        return data

    def _bytes(self, what: str, url: str) -> bytes | None:
        response = self._get(what, url, None, accept="*/*")
        return None if response is None else response.content

    def _get(
        self, what: str, url: str, params: dict[str, str] | None, *, accept: str
    ) -> requests.Response | None:
        """GET with a current token; None on 404; throttling waited out when short; else raise."""
        for attempt in range(MAX_THROTTLE_RETRIES + 1):
            headers = {
                "Authorization": f"Bearer {self._token()}",
                "Accept": accept,
                "Prefer": 'IdType="ImmutableId"',
            }
            try:
                response = self._session.get(
                    url, params=params, headers=headers, timeout=self.settings.timeout
                )
            except requests.RequestException as exc:
                raise MailboxUnavailable(f"could not {what} in {self.name}: {exc}") from exc
            if response.status_code == NOT_FOUND:
                return None  # the caller decides: a mail gone meanwhile, or a wrong mailbox or folder
            if response.status_code in THROTTLED:
                delay = retry_after(response.headers.get("Retry-After"))
                if attempt < MAX_THROTTLE_RETRIES and delay <= MAX_THROTTLE_WAIT:
                    log.info("%s: Graph answered %s; retrying in %.0f s",
                             self.name, response.status_code, delay)
                    self._sleep(delay)
                    continue
                raise MailboxUnavailable(
                    f"could not {what} in {self.name}: Graph is throttling "
                    f"({response.status_code}, retry after {delay:.0f} s)"
                )
            if response.status_code >= HTTP_ERROR:
                raise MailboxUnavailable(f"could not {what} in {self.name}: {describe(response, READ_HINTS)}")
            return response
        raise AssertionError("unreachable")

    def _token(self) -> str:
        try:
            return self.token()
        except IntakeError as exc:
            raise MailboxUnavailable(f"{self.name}: {exc}") from exc


def _key(message_id: str) -> str:
    """The database key for a Graph id: the id itself, or a hash of one too long for the column."""
    if len(message_id) <= MAX_KEY_LENGTH:
        return message_id
    return "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _instant(value: Any) -> datetime | None:
    """Graph's receivedDateTime ("2017-06-19T08:00:00Z") as an aware UTC datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
