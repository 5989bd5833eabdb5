"""plotly's JavaScript written once per folder, shared by every page written there.

A page that inlines plotly weighs about 4.8 MB; the read-out and the shadow report of one
experiment usually land in one folder, so both link one copy named by plotly's version (a
newer plotly never overwrites the copy older pages use).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["shared_plotly_js"]


def shared_plotly_js(folder: Path) -> str:
    """Write plotly's JavaScript into ``folder`` unless it is there; its file name."""
    import plotly
    from plotly.offline import get_plotlyjs

    name = f"plotly-{plotly.__version__}.min.js"
    path = folder / name
    if not path.is_file():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(get_plotlyjs(), encoding="utf-8")
        tmp.replace(path)
    return name
