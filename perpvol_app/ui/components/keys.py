"""Key management: add, replace and remove exchange credentials; "sync now".

Credentials typed into password inputs go through the one account path (``perpvol_core.services.accounts``):
validated with the same rules as the CLI and the API, tested against the exchange BEFORE they are
encrypted by the vault and saved in the store; errors are shown under the form, in its words. The inputs are
cleared as soon as the form is submitted; only masked hints and redacted messages reach the page.
The test runs on a thread so the session stays responsive; sync itself runs in the worker.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import panel as pn
import param

from perpvol_app.api_models import input_fields, secret_fields
from perpvol_app.templates import render
from perpvol_app.ui.components.accounts import render_accounts
from perpvol_core.exchanges import KINDS, VENUES
from perpvol_core.security.redaction import Secret, redact
from perpvol_core.services.accounts import AccountInputError, AccountRequest, build_credentials, validate_base_url

log = logging.getLogger(__name__)

#: what the Replace checkbox says (the form's own words in its messages)
REPLACE_LABEL = "Replace the credentials of this label"


def kind_label(model: Any) -> str:
    """How the kind selector names a credential kind: its summary ("A … API key and its secret")."""
    summary = str(model.summary)
    return summary[:1].upper() + summary[1:]


def kind_options() -> dict[str, str]:
    """The kind selector's options, label -> kind, over every registered venue (from the registry)."""
    return {kind_label(model): kind for kind, model in KINDS.items()}


def form_request(kind: str, label: str, base_url: str | None, **fields: str) -> AccountRequest:
    """The account request of the form: only the inputs of the chosen kind are sent (secrets as Secret)."""
    model = KINDS.get(kind)
    if model is None:
        raise AccountInputError(None, f"Choose what to add: {', '.join(kind_options())}.")
    secrets = secret_fields(model)
    values: dict[str, Any] = {"kind": kind}
    for name in input_fields(model):
        value = (fields.get(name) or "").strip() if name in secrets else fields.get(name) or ""
        values[name] = Secret(value) if name in secrets else value
    return AccountRequest(model.exchange, label, base_url=base_url or None, credentials=values)


class KeyManager(pn.viewable.Viewer):
    """Add/replace/remove read-only credentials; list accounts masked; trigger a sync."""

    rows = param.List(default=[], doc="accounts.snapshot() rows")
    message = param.String(default="")
    message_kind: param.Selector[str] = param.Selector(default="info", objects=["info", "ok", "error"])
    message_area: param.Selector[str] = param.Selector(
        default="form", objects=["form", "accounts"], doc="where the message shows"
    )
    busy = param.Boolean(default=False)
    pending_remove = param.String(default="", doc="label awaiting removal confirmation")

    def __init__(self, context: Any = None, **params: Any) -> None:
        super().__init__(**params)
        self.context = context
        w = pn.widgets
        options = kind_options()
        first = next(iter(options.values()))
        self.kind = w.Select(label="Credential", options=options, value=first, sizing_mode="stretch_width")
        self.label = w.TextInput(label="Label", placeholder=f"e.g. main-{next(iter(VENUES))}",
                                 sizing_mode="stretch_width")  # fmt: skip
        self.base_url = w.TextInput(
            label="Base URL (optional)", placeholder="exchange default", sizing_mode="stretch_width"
        )
        #: (kind, field) -> its input: one per field of every credential kind, shown for the chosen kind
        self.inputs: dict[tuple[str, str], Any] = {}
        for kind, model in KINDS.items():
            secrets = secret_fields(model)
            for name in input_fields(model):
                info = model.model_fields[name]
                widget = w.PasswordInput if name in secrets else w.TextInput
                self.inputs[(kind, name)] = widget(
                    label=model.field_title(name), placeholder=info.description or "", visible=kind == first,
                    sizing_mode="stretch_width",
                )  # fmt: skip
        self.replace = w.Checkbox(label=REPLACE_LABEL)
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
        self._message = pn.pane.HTML("", sizing_mode="stretch_width")  # under the form
        self._accounts_message = pn.pane.HTML("", sizing_mode="stretch_width")  # under the account list
        self.kind.param.watch(self._on_kind, "value")
        form = pn.Column(
            "#### Add or replace a key",
            self.kind, self.label, *self.inputs.values(), self.base_url, self.replace, self.add_button, self._message,
            sizing_mode="stretch_width", styles={"flex": "1 1 320px", "min-width": "260px"},
        )  # fmt: skip
        manage = pn.Column(
            "#### Accounts",
            self._list,
            pn.Row(self.selected, sizing_mode="stretch_width"),
            pn.Row(self.sync_button, self.remove_button, self.confirm_button, self.cancel_button,
                   styles={"flex-wrap": "wrap"}),
            self._accounts_message,
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

    @param.depends("message", "message_kind", "message_area", watch=True)
    def _update_message(self) -> None:
        cls = {"error": "pv-error", "ok": "pv-ok", "info": "pv-muted"}[self.message_kind]
        text = render("ui/key_message.html", cls=cls, message=self.message) if self.message else ""
        shown, other = (
            (self._message, self._accounts_message) if self.message_area == "form"
            else (self._accounts_message, self._message)
        )  # fmt: skip
        shown.object, other.object = text, ""

    @param.depends("busy", watch=True)
    def _update_busy(self) -> None:
        self.add_button.disabled = self.busy
        self.add_button.label = "Testing…" if self.busy else "Test and save"

    def input(self, kind: str, field: str) -> Any:
        """The input of ``field`` of credential kind ``kind``."""
        return self.inputs[(kind, field)]

    def _on_kind(self, event: Any) -> None:
        for (kind, _field), widget in self.inputs.items():
            widget.visible = kind == event.new

    def _say(self, text: str, kind: str = "info", area: str = "accounts") -> None:
        with param.parameterized.batch_call_watchers(self):
            self.message_kind = kind
            self.message_area = area
            self.message = redact(text)

    def refresh(self) -> None:
        if self.context is not None:
            from perpvol_app.ui.components.accounts import snapshot

            self.rows = snapshot(self.context.store)

    # -- actions -----------------------------------------------------------------------------------

    def _take_fields(self, kind: str) -> dict[str, str]:
        """The chosen kind's inputs; every password input is cleared at once (its value is never sent back)."""
        values = {field: self.inputs[(k, field)].value or "" for k, field in self.inputs if k == kind}
        for (k, field), wdg in self.inputs.items():
            if field in secret_fields(KINDS[k]):
                wdg.value = ""
                if hasattr(wdg, "value_input"):
                    wdg.value_input = ""
        return values

    async def _on_add(self, _event: Any = None) -> None:
        kind = self.kind.value
        fields = self._take_fields(kind)
        await self.add(kind=kind, label=self.label.value or "", base_url=self.base_url.value or None,
                       replace=self.replace.value, **fields)  # fmt: skip

    async def add(
        self, kind: str, label: str, base_url: str | None = None, replace: bool = False, **fields: str
    ) -> bool:
        """Validate, test against the exchange, encrypt and save (the one account path); True when saved.

        The message under the form says why not, in the form's words.
        """
        from perpvol_core.exchanges import ExchangeError
        from perpvol_core.services import accounts
        from perpvol_core.store import AccountExists

        def say(text: str, kind: str = "error") -> None:
            self._say(text, kind, area="form")

        try:
            req = form_request(kind, label, base_url, **fields)
            accounts.validate_label(req.label)
            validate_base_url(req.base_url)
            creds = build_credentials(req)
        except AccountInputError as exc:
            say(str(exc))
            return False
        label = accounts.validate_label(req.label)
        self.busy = True
        say(f"Testing {label} against the exchange…", "info")
        try:
            saved, report = await asyncio.to_thread(
                accounts.add_account_report, self.context.store, self.context.vault, req, replace=replace
            )
        except AccountExists:
            say(f"An account labelled {label} already exists: tick “{REPLACE_LABEL}” to replace its key.")
            return False
        except AccountInputError as exc:  # DuplicateAccount, a label of another exchange
            say(f"Not saved: {exc}")
            return False
        except ExchangeError as exc:
            say(f"Not saved: {exc}")
            return False
        except Exception as exc:  # noqa: BLE001 - vault or database errors: show the message, keep the session
            log.warning("saving %s failed: %s", label, redact(exc))
            say(f"Not saved: {exc}")
            return False
        finally:
            self.busy = False
        self.label.value = ""
        for widget in self.inputs.values():
            widget.value = ""
        self.context.invalidate()
        self._start_sync([label])
        say(f"Saved {label} ({creds.hint}); {report or 'not tested'}. Syncing…", "ok")
        self.refresh()
        return bool(saved)

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
