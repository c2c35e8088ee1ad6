"""What ``panel serve`` serves (``perpvol serve`` runs it with ``--plugins perpvol_app.plugin``)."""

from perpvol_app.ui.dashboard import create_app

create_app().servable(title="perpvol")
