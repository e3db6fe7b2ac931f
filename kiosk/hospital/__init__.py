"""The hospital system: FHIR R4 bundles, HL7 v2 messages, the transports that carry them and the outbox worker
that delivers stored admissions, and the appointment look-up."""
