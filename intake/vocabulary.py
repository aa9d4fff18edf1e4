"""Swedish words about units that more than one stage needs."""

from __future__ import annotations

# The units' states as coordinators read them (the web desk, the register export).
STATE_LABELS = {
    "awaiting_protocol": "Väntar på protokoll",
    "confirmed": "Bekräftad",
    "needs_review": "Granskas",
}

# A word ending like this names a unit by itself ("Förstärkningsteamet", "Korttidshemmet",
# "Socialjouren", "Kundcenter", "Förvaltningsområde").
UNIT_SUFFIXES = (
    "enheten", "enhet", "teamet", "team", "gruppen", "grupp", "hemmet", "hem", "boendet", "boende",
    "skolan", "skola", "skolor", "forskolor", "jouren", "centrum", "center", "centret", "mottagningen",
    "verksamheten", "verksamhet", "omradet", "omrade", "servicehus", "servicehuset", "garden", "stugan",
    "hemtjansten", "hemtjanst", "avdelningen", "sektionen", "gymnasiet", "gymnasium", "biblioteket",
    "bostader", "bostad", "gruppbostaden", "traffpunkt", "traffpunkten", "kontoret", "avdelning",
    "service", "tjansten", "tjanst", "support", "ombudsman", "ombudsmannen", "badet", "torg", "torget",
    "stod", "stodet", "behandlarna", "jour", "kansliet", "staben", "enheterna", "centralen",
)
