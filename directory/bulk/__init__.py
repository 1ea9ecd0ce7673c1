"""Bulk data for administrators: import practitioners from CSV, export the listed directory.

Plain code, no request objects: `columns` documents the file format, `importer` parses,
validates and writes (all or nothing), `exporter` writes the listed directory as CSV or JSON.
`routes` (admin pages) and `cli` (flask commands) are the two ways in.
"""
