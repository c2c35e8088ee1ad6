"""Key management: add, replace and remove exchange credentials; "sync now".

Credentials typed into password inputs are tested against the exchange (``perpvol_core.services.sync.
test_credentials``) BEFORE they are encrypted by the vault and saved in the store. The inputs are
cleared as soon as the form is submitted; only masked hints and redacted messages reach the page.
The test runs on a thread so the session stays responsive; sync itself runs in the worker.
"""

from __future__ import annotations

import asyncio
import html
import logging
from typing import Any

import panel as pn
import param

from perpvol_app.ui.components.accounts import render_accounts
from perpvol_core.security.credentials import (
    Credentials,
    ParadexL2Credentials,
    ParadexTokenCredentials,
    WooxCredentials,
)
from perpvol_core.security.redaction import Secret, redact

log = logging.getLogger(__name__)

KINDS = {
    "WOO X API key": "woox",
    "Paradex read-only token": "paradex_token",
    "Paradex L2 key / subkey": "paradex_l2",
}


class KeyError_(ValueError):
    """The form is incomplete or invalid; the message is shown as is."""


def build_credentials(kind: str, api_key: str, api_secret: str, token: str, account: str, l2_key: str) -> Credentials:
    """Typed credentials from the form values (secrets wrapped in :class:`Secret` at once)."""
    if kind == "woox":
        if not api_key.strip() or not api_secret:
            raise KeyError_("WOO X needs the API key and its secret.")
        return WooxCredentials(api_key=api_key.strip(), api_secret=Secret(api_secret.strip()))
    if kind == "paradex_token":
        if not token:
            raise KeyError_("Paste the Paradex read-only token.")
        return ParadexTokenCredentials(token=Secret(token.strip()))
    if kind == "paradex_l2":
        if not account.strip().startswith("0x") or not l2_key:
            raise KeyError_("Paradex L2 needs the account address (0x…) and the L2 private key.")
        return ParadexL2Credentials(account=account.strip(), l2_key=Secret(l2_key.strip()))
    raise KeyError_(f"unknown kind {kind!r}")


def check_credentials(creds: Credentials, base_url: str | None) -> str:
    """Test the credentials against the exchange; raises ``ExchangeError`` with a user-facing message."""
    from perpvol_core.services.sync import test_credentials

    return str(test_credentials(creds, base_url) or "ok")


def save_credentials(ctx: Any, label: str, creds: Credentials, base_url: str | None, replace: bool) -> Any:
    """Encrypt through the vault and add (or replace) the account; returns the ``Account``."""
    from perpvol_core.store import AccountNotFound

    if replace:
        try:
            acc = ctx.store.get_account(label)
        except AccountNotFound:
            acc = None
        if acc is not None:
            if acc.exchange != creds.exchange:
                raise KeyError_(f"{label} is a {acc.exchange} account; remove it first to change exchange.")
            # the blob is bound to the URL the row keeps (the vault's associated data)
            ctx.store.replace_credentials(label, ctx.vault.encrypt(creds, label=label, base_url=acc.base_url),
                                          creds.hint)
            return ctx.store.get_account(label)
    blob = ctx.vault.encrypt(creds, label=label, base_url=base_url)
    return ctx.store.add_account(label, creds.exchange, base_url, blob, creds.hint)


class KeyManager(pn.viewable.Viewer):
    """Add/replace/remove read-only credentials; list accounts masked; trigger a sync."""

    rows = param.List(default=[], doc="accounts.snapshot() rows")
    message = param.String(default="")
    message_kind = param.Selector(default="info", objects=["info", "ok", "error"])
    busy = param.Boolean(default=False)
    pending_remove = param.String(default="", doc="label awaiting removal confirmation")

    def __init__(self, context: Any = None, **params: Any) -> None:
        super().__init__(**params)
        self.context = context
        w = pn.widgets
        self.kind = w.Select(label="Credential", options=KINDS, value="woox", sizing_mode="stretch_width")
        self.label = w.TextInput(label="Label", placeholder="e.g. main-woox", sizing_mode="stretch_width")
        self.base_url = w.TextInput(
            label="Base URL (optional)", placeholder="exchange default", sizing_mode="stretch_width"
        )
        self.api_key = w.TextInput(label="WOO X API key", sizing_mode="stretch_width")
        self.api_secret = w.PasswordInput(label="WOO X API secret", sizing_mode="stretch_width")
        self.token = w.PasswordInput(
            label="Paradex read-only token", placeholder="read-only token (shown once by Paradex)",
            sizing_mode="stretch_width", visible=False,
        )
        self.account = w.TextInput(
            label="Paradex account address", placeholder="0x…", sizing_mode="stretch_width", visible=False
        )
        self.l2_key = w.PasswordInput(label="Paradex L2 private key", sizing_mode="stretch_width", visible=False)
        self.replace = w.Checkbox(label="Replace the credentials of this label")
        self.add_button = w.Button(label="Test and save", color="primary")
        self.add_button.on_click(self._on_add)

        self.selected = w.Select(label="Account", options=[], sizing_mode="stretch_width")
        self.sync_button = w.Button(label="Sync now")
        self.sync_button.on_click(self._on_sync)
        self.remove_button = w.Button(label="Remove…", color="danger")
        self.remove_button.on_click(self._on_remove)
        self.confirm_button = w.Button(label="Confirm removal", color="danger", visible=False)
        self.confirm_button.on_click(self._on_confirm)
        self.cancel_button = w.Button(label="Cancel", color="default", visible=False)
        self.cancel_button.on_click(self._on_cancel)

        self._list = pn.pane.HTML(render_accounts(self.rows), sizing_mode="stretch_width")
        self._message = pn.pane.HTML("", sizing_mode="stretch_width")
        self.kind.param.watch(self._on_kind, "value")
        form = pn.Column(
            "#### Add or replace a key",
            self.kind, self.label, self.api_key, self.api_secret, self.token, self.account, self.l2_key,
            self.base_url, self.replace, self.add_button,
            sizing_mode="stretch_width", styles={"flex": "1 1 320px", "min-width": "260px"},
        )  # fmt: skip
        manage = pn.Column(
            "#### Accounts",
            self._list,
            pn.Row(self.selected, sizing_mode="stretch_width"),
            pn.Row(self.sync_button, self.remove_button, self.confirm_button, self.cancel_button,
                   styles={"flex-wrap": "wrap"}),
            self._message,
            sizing_mode="stretch_width", styles={"flex": "2 1 420px", "min-width": "280px"},
        )  # fmt: skip
        self._layout = pn.FlexBox(manage, form, sizing_mode="stretch_width")
        self._update_rows()

    # -- rendering ---------------------------------------------------------------------------------

    @param.depends("rows", watch=True)
    def _update_rows(self) -> None:
        self._list.object = render_accounts(self.rows)
        labels = [r["label"] for r in self.rows]
        if labels != self.selected.options:
            self.selected.options = labels
            if labels and self.selected.value not in labels:
                self.selected.value = labels[0]

    @param.depends("message", "message_kind", watch=True)
    def _update_message(self) -> None:
        cls = {"error": "pv-error", "ok": "pv-ok", "info": "pv-muted"}[self.message_kind]
        self._message.object = (
            f'<div id="pv-key-message" class="{cls}">{html.escape(self.message)}</div>' if self.message else ""
        )

    @param.depends("busy", watch=True)
    def _update_busy(self) -> None:
        self.add_button.disabled = self.busy
        self.add_button.label = "Testing…" if self.busy else "Test and save"

    def _on_kind(self, event: Any) -> None:
        kind = event.new
        self.api_key.visible = self.api_secret.visible = kind == "woox"
        self.token.visible = kind == "paradex_token"
        self.account.visible = self.l2_key.visible = kind == "paradex_l2"

    def _say(self, text: str, kind: str = "info") -> None:
        with param.parameterized.batch_call_watchers(self):
            self.message_kind = kind
            self.message = redact(text)

    def refresh(self) -> None:
        if self.context is not None:
            from perpvol_app.ui.components.accounts import snapshot

            self.rows = snapshot(self.context.store)

    # -- actions -----------------------------------------------------------------------------------

    def _take_secrets(self) -> tuple[str, str, str]:
        """Read and clear the password inputs at once (their values are never sent back)."""
        values = (self.api_secret.value or "", self.token.value or "", self.l2_key.value or "")
        for wdg in (self.api_secret, self.token, self.l2_key):
            wdg.value = ""
            if hasattr(wdg, "value_input"):
                wdg.value_input = ""
        return values

    async def _on_add(self, _event: Any = None) -> None:
        api_secret, token, l2_key = self._take_secrets()
        await self.add(
            kind=self.kind.value, label=self.label.value or "", base_url=self.base_url.value or None,
            api_key=self.api_key.value or "", api_secret=api_secret, token=token,
            account=self.account.value or "", l2_key=l2_key, replace=self.replace.value,
        )  # fmt: skip

    async def add(
        self, kind: str, label: str, base_url: str | None = None, api_key: str = "", api_secret: str = "",
        token: str = "", account: str = "", l2_key: str = "", replace: bool = False,
    ) -> bool:  # fmt: skip
        """Validate against the exchange, then save; returns True when saved (message says why not)."""
        label = label.strip()
        if not label:
            self._say("Give the account a label.", "error")
            return False
        try:
            creds = build_credentials(kind, api_key, api_secret, token, account, l2_key)
        except KeyError_ as exc:
            self._say(str(exc), "error")
            return False
        self.busy = True
        self._say(f"Testing {label} against the exchange…")
        try:
            result = await asyncio.to_thread(check_credentials, creds, base_url)
        except Exception as exc:  # noqa: BLE001 - ExchangeError subclasses carry user-facing messages
            self.busy = False
            self._say(f"Not saved: {exc}", "error")
            return False
        try:
            await asyncio.to_thread(save_credentials, self.context, label, creds, base_url, replace)
        except Exception as exc:  # noqa: BLE001 - AccountExists, vault errors: show the message
            self.busy = False
            self._say(f"Not saved: {exc}", "error")
            return False
        self.busy = False
        self.label.value = ""
        self.api_key.value = ""
        self.account.value = ""
        self.context.invalidate()
        self._start_sync([label])
        self._say(f"Saved {label} ({creds.hint}); {result}. Syncing…", "ok")
        self.refresh()
        return True

    def _start_sync(self, labels: list[str] | None) -> bool:
        worker = getattr(self.context, "worker", None)
        if worker is None:
            self._say("No sync worker runs in this process; run `perpvol sync`.", "error")
            return False
        try:
            worker.sync_now(labels)
        except Exception as exc:  # noqa: BLE001
            self._say(f"Could not start sync: {exc}", "error")
            return False
        return True

    def _on_sync(self, _event: Any = None) -> None:
        label = self.selected.value
        if self._start_sync([label] if label else None):
            self._say(f"Sync requested for {label or 'all accounts'}.", "ok")

    def _on_remove(self, _event: Any = None) -> None:
        if not self.selected.value:
            return
        self.pending_remove = self.selected.value
        self._say(f"Remove {self.pending_remove}, its fills and its encrypted key? Confirm to proceed.", "error")

    @param.depends("pending_remove", watch=True)
    def _update_confirm(self) -> None:
        pending = bool(self.pending_remove)
        self.confirm_button.visible = self.cancel_button.visible = pending
        self.remove_button.visible = not pending
        if pending:
            self.confirm_button.label = f"Confirm: remove {self.pending_remove}"

    def _on_confirm(self, _event: Any = None) -> None:
        label = self.pending_remove
        self.pending_remove = ""
        try:
            self.context.store.remove_account(label)
        except Exception as exc:  # noqa: BLE001
            self._say(f"Could not remove {label}: {exc}", "error")
            return
        self.context.invalidate()
        self._say(f"Removed {label}.", "ok")
        self.refresh()

    def _on_cancel(self, _event: Any = None) -> None:
        self.pending_remove = ""
        self._say("")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
