"""Swedish words for the codes the bot stores: what coordinators read in the browser."""

from __future__ import annotations

from intake.vocabulary import STATE_LABELS

OUTCOMES = {
    "confirmed": "Bekräftat",
    "incomplete": "Ofullständigt",
    "needs_review": "Granskas",
    "ignored": "Ignorerat",
    None: "Ej behandlat",
}
STATES = STATE_LABELS
MISSING = {
    "no_attachment": "Bilaga saknas",
    "unreadable_attachment": "Bilagan gick inte att läsa",
    "not_protocol": "Inte ett protokollsutdrag",
    "no_decision": "Beslut om deltagande saknas",
    "not_adjusted": "Protokollet är inte justerat",
    "wrong_year": "Fel år",
    "unknown_unit": "Okänd enhet",
    "registered_unit_missing": "Anmäld enhet saknas i beslutet",
    "late": "Inkom efter sista dag",
}
DOC_TYPES = {
    "protokollsutdrag": "Protokollsutdrag",
    "tjansteutlatande": "Tjänsteutlåtande",
    "tavlingsbidrag": "Tävlingsbidrag",
    "other": "Annat dokument",
    None: "Okänt",
}
REPLY_STATUSES = {
    "queued": "I kö",
    "sending": "Skickas",
    "sent": "Skickat",
    "held": "Hållet (svarsgräns)",
    "failed": "Misslyckades",
    "uncertain": "Osäkert om det nådde fram",
}
REPLY_KINDS = {
    "auto": "Automatiskt svar",
    "repeat": "Svar efter granskning",
    "manual": "Svar från samordnare",
    "reminder": "Påminnelse",
    "alert": "Driftlarm",
}
RESOLUTIONS = {
    "accepted": "Matchning godkänd",
    "other_unit": "Annan enhet vald",
    "not_protocol": "Inte ett protokollsutdrag",
    "unit_added": "Enhet tillagd i registret",
    "dismissed": "Avfärdad",
    "replied": "Besvarad",
    "resolved": "Avgjord",
}
