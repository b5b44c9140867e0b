"""What people read: markdown and HTML reports and matplotlib figures, built from plain data (no Dagster)."""
