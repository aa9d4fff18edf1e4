"""Backscatter protection: may the bot answer this sender automatically?

A forged From: address makes an auto-reply land on an innocent third party (backscatter).
The city's mail server checks SPF, DKIM and DMARC and writes the verdicts into an
Authentication-Results header (RFC 8601) under its own authserv-id; this module reads only
headers carrying that id (a sender can write any header it likes, but not the receiving
server's verdict above its own), and decides by the policy `security.reply_policy`:

- `any`: every sender is answered (tests, and servers that check nothing);
- `authenticated`: only when the address the reply goes to is vouched for: DMARC passed for
  its domain, or DKIM passed with a signing domain aligned to it, or SPF passed for an
  aligned envelope sender;
- `domains`: only addresses in `security.reply_domains` (and their subdomains);
- `authenticated_or_domains`: either (the recommended setting).

A sender refused is not answered; the mail is still stored, processed and shown to a
coordinator, who can answer by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from intake.domain import ParsedMail

_RESULT = re.compile(r"\b(spf|dkim|dmarc)\s*=\s*([a-z]+)\b([^;]*)", re.IGNORECASE)
_PROPERTY = re.compile(r"\b(header\.d|header\.i|header\.from|smtp\.mailfrom|smtp\.from)\s*=\s*\"?([^\s;\"]+)",
                       re.IGNORECASE)
_COMMENT = re.compile(r"\([^()]*\)")
# the property of each method's result that names the domain it vouches for
VOUCHING = {
    "dmarc": ("header.from",),
    "dkim": ("header.d", "header.i"),
    "spf": ("smtp.mailfrom", "smtp.from"),
}


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    reason: str  # Swedish, for the coordinator's review item when not allowed


def may_auto_reply(mail: ParsedMail, recipient: str, policy: str, authserv_id: str,
                   domains: Sequence[str]) -> Verdict:
    """Whether an automatic reply may go to `recipient` (the Reply-To or From of `mail`)."""
    if policy == "any":
        return Verdict(True, "")
    domain = recipient.rsplit("@", 1)[-1].lower() if "@" in recipient else ""
    if policy in ("domains", "authenticated_or_domains") and in_domains(domain, domains):
        return Verdict(True, "")
    if policy in ("authenticated", "authenticated_or_domains") and authenticated(
            mail.headers, domain, authserv_id):
        return Verdict(True, "")
    why = ("avsändarens domän finns inte bland dem som får automatiska svar"
           if policy == "domains" else
           "e-postservern kunde inte bekräfta avsändaren (SPF, DKIM och DMARC)")
    return Verdict(False, f"Inget automatiskt svar skickades till {recipient}: {why}. "
                          "Svara för hand om mejlet är äkta.")


def in_domains(domain: str, domains: Iterable[str]) -> bool:
    domain = domain.lower().rstrip(".")
    return bool(domain) and any(domain == d or domain.endswith("." + d)
                                for d in (x.lower().strip().strip(".") for x in domains) if d)


def authenticated(headers: Sequence[tuple[str, str]], domain: str, authserv_id: str) -> bool:
    """A pass for `domain` in an Authentication-Results header of the trusted server.

    With no authserv_id configured, only the topmost header counts (the one the last hop,
    the city's own server, added)."""
    if not domain:
        return False
    results = [value for name, value in headers if name == "authentication-results"]
    trusted = ([v for v in results if _authserv(v) == authserv_id.lower()] if authserv_id
               else results[:1])
    return any(_passes(value, domain) for value in trusted)


def _authserv(value: str) -> str:
    return _COMMENT.sub("", value).split(";", 1)[0].strip().split()[0].lower() if value.strip() else ""


def _passes(value: str, domain: str) -> bool:
    text = _COMMENT.sub("", value)
    for method, result, rest in _RESULT.findall(text):
        if result.lower() != "pass":
            continue
        properties = {key.lower(): val.lower().rsplit("@", 1)[-1] for key, val in _PROPERTY.findall(rest)}
        if any(_aligned(properties.get(key, ""), domain) for key in VOUCHING[method.lower()]):
            return True
    return False


def _aligned(vouched: str, domain: str) -> bool:
    """Relaxed alignment (DMARC's default): the same organisational domain, approximated as one
    being the other or a subdomain of it."""
    vouched = vouched.strip(".").lower()
    if not vouched:
        return False
    return domain == vouched or domain.endswith("." + vouched) or vouched.endswith("." + domain)
