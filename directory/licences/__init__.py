"""Licences: the check of each practitioner's licence at its official source (services.py),
the US NPI and the NPPES file (npi.py, nppes.py), and the registers elsewhere (registers.py)."""
