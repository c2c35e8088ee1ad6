"""Hyperliquid: a public address (``credentials``), ``POST /info`` reads (``rest``, walked by ``paging``, parsed
by ``parse``, the venue's figures in ``report``), the ``userFills`` stream (``stream``) and its ``SPEC``."""
