"""Secrets: the masked ``Secret`` type and ``redact``, credential types, and the encrypted vault."""
