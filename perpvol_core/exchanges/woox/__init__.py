"""WOO X: request signing and the REST connector (``rest``), reading transactionHistory under every reading of the
notes (``paging``), what the server was seen to do (``profile``: ``describe_server_profile``), and the private
streams v3/v2 (``stream``)."""

from perpvol_core.exchanges.woox.profile import describe_server_profile

__all__ = ["describe_server_profile"]
