"""Read-only views for staff: `/groupe`, the trainer's digest, `/stats` and its chart, `/export`.

Each module takes an open unit of work (`tx`) and returns plain data (or bytes: a PNG, an
XLSX); the handlers render it. Nothing here writes to the database or imports telegram.
"""
