"""The FHIR R4 directory API: /fhir (read-only, public; modelled on HL7's National Directory)."""
