"""The dashboard alone for ``panel serve perpvol_app/app.py`` (no API, Panel's own server); ``perpvol serve``
serves it with the API behind our login (:mod:`perpvol_app.server`)."""

from perpvol_app.ui.dashboard import create_app

create_app().servable(title="perpvol")
