"""The dashboard's HTML shell: landmarks, navigation, the token field; the script does the rest.

Kept in Python rather than an ``.html`` file so it is built with the assets' content hashes
(a new release's script is never taken from a browser cache) and no packaging rule for
HTML files can leave it out of a wheel.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib.resources import files

__all__ = ["ASSETS", "page"]

ASSETS = ("app.js", "style.css")


@cache
def _version(asset: str) -> str:
    body = files("champion.ui").joinpath("assets", asset).read_bytes()
    return hashlib.sha256(body).hexdigest()[:12]


@cache
def page() -> str:
    """The one page every view of the dashboard is rendered into."""
    js, css = (f"/ui/assets/{a}?v={_version(a)}" for a in ASSETS)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>champion dashboard</title>
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
    <input id="token" type="password" size="18"
      aria-describedby="token-help" placeholder="admin token">
    <button type="submit">Use</button>
    <button type="button" id="token-clear">Forget</button>
    <span id="token-help" class="muted">kept in this tab only</span>
  </form>
</header>
<p id="status" class="status" role="status" aria-live="polite"></p>
<main id="main" tabindex="-1"><p>Loading…</p></main>
<script src="{js}" defer></script>
</body>
</html>
"""
