"""Bulk data for administrators: import practitioners from CSV, export the searchable directory.

Plain code, no request objects: `columns` documents the file format, `importer` parses,
validates and writes (all or nothing), `exporter` writes the searchable directory as CSV or JSON.
`routes` (admin pages) and `cli` (flask commands) are the two ways in.
"""
