"""``perpvol verify [--label L]``: the full self-check of every account (or one), against the exchange.

Every covered window is read again by a narrower query and compared fill for fill with the store
(``perpvol_core.services.verify``). Prints one line per account; the exit code is non-zero when an
account disagrees or could not be checked.
"""

from __future__ import annotations

import sys

from perpvol_core.config import ConfigError, Settings
from perpvol_core.security.redaction import redact

EXIT_DISAGREES = 1
EXIT_UNCHECKED = 4


def _fail(message: str, code: int = 1) -> int:
    print(f"perpvol: error: {redact(message)}", file=sys.stderr)
    return code


def cmd_verify(*, label: str | None = None) -> int:
    """Full check of ``--label`` or of every account; records each result on the account."""
    from perpvol_core.security.vault import Vault, VaultError
    from perpvol_core.services.verify import verify_account
    from perpvol_core.store import AccountNotFound, StoreError
    from perpvol_core.store.existing import no_data_text, open_existing

    settings = Settings.from_env()
    try:
        store = open_existing(settings)  # a read never creates a database
    except (StoreError, ConfigError) as exc:
        return _fail(str(exc))
    if store is None:  # an asked-for label cannot be there: that is a failure
        if label:
            return _fail(f"no account labelled {label!r}: {no_data_text(settings)}")
        print(no_data_text(settings), file=sys.stderr)
        return 0
    code = 0
    try:
        vault = Vault.open(settings, store)
        labels = [store.get_account(label).label] if label else [a.label for a in store.list_accounts()]
        if not labels:
            print("no accounts yet: add one with `perpvol keys add EXCHANGE --label L …`", file=sys.stderr)
            return 0
        for name in labels:
            result = verify_account(store, vault, name, full=True)
            mark = "ok    " if result.ok else ("ERROR " if result.ok is False else "UNCHECKED")
            print(f"{name:<14} {mark} {redact(result.summary())}")
            if result.ok is False:
                code = max(code, EXIT_DISAGREES)
            elif result.ok is None:
                code = EXIT_UNCHECKED
    except (AccountNotFound, StoreError, VaultError, ConfigError) as exc:
        return _fail(str(exc))
    finally:
        store.close()
    return code
