"""The dashboard's HTML shell: landmarks, navigation, the token field; the scripts do the rest.

Kept in Python rather than an ``.html`` file so it is built with the assets' content hashes
(a new release's scripts are never taken from a browser cache) and no packaging rule for
HTML files can leave it out of a wheel.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib.resources import files

__all__ = ["ASSETS", "SCRIPTS", "page"]

#: the scripts in the order the page runs them (each uses what the ones before define)
SCRIPTS = ("dom.js", "charts.js", "list.js", "readout.js", "experiment.js", "tools.js", "app.js")
ASSETS = (*SCRIPTS, "style.css")


@cache
def _version(asset: str) -> str:
    body = files("champion.ui").joinpath("assets", asset).read_bytes()
    return hashlib.sha256(body).hexdigest()[:12]


@cache
def page() -> str:
    """The one page every view of the dashboard is rendered into."""
    css = f"/ui/assets/style.css?v={_version('style.css')}"
    js = "\n".join(f'<script src="/ui/assets/{a}?v={_version(a)}" defer></script>' for a in SCRIPTS)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>champion dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{css}">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
  <nav aria-label="Main">
    <strong class="brand">champion</strong>
    <a href="#/">Experiments</a>
    <a href="#/plan">Sample size</a>
    <a href="#/race">Bandit race</a>
  </nav>
  <form id="token-form" class="token" autocomplete="off">
    <label for="token">Token</label>
    <input id="token" type="password" size="18" autocomplete="off"
      aria-describedby="token-help" placeholder="admin token">
    <button type="submit">Use</button>
    <button type="button" id="token-clear">Forget</button>
    <span id="token-help" class="muted">kept in this tab only</span>
  </form>
</header>
<p id="status" class="status" role="status" aria-live="polite"></p>
<main id="main" tabindex="-1"><p>Loading…</p></main>
{js}
</body>
</html>
"""
