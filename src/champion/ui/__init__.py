"""The web dashboard: experiments, their guardrails, read-outs and history, in the browser.

``champion serve`` mounts it at ``/ui`` (:func:`mount_ui`); ``champion ui`` serves it alone
over a registry and an event store (:func:`create_ui_app`). Its HTML, script and stylesheet
are package data; its numbers come from the registry, the read-out, the monitor's verdict,
the planner and the bandit race, through JSON routes under ``/ui/api`` (docs/ui.md).
"""

from champion.ui.routes import REFRESH_SECONDS, mount_ui
from champion.ui.standalone import create_ui_app

__all__ = ["REFRESH_SECONDS", "create_ui_app", "mount_ui"]
