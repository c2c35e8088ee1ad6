"""The Panel dashboard, its components, and the read-only view."""
