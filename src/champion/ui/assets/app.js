// champion dashboard: the token field, routing between views, polling. Loaded last.
"use strict";

function setupToken() {
  const form = document.getElementById("token-form");
  const input = document.getElementById("token");
  input.value = token();
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    say(input.value.trim() ? "token kept for this tab" : "no token");
    refresh();
  });
  document.getElementById("token-clear").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    input.value = "";
    say("token forgotten");
  });
}

function schedule() {
  clearInterval(ui.timer);
  const seconds = (ui.config && ui.config.refresh_seconds) || 5;
  ui.timer = setInterval(refresh, seconds * 1000);
}

async function refresh() {
  if (document.hidden) return;  // a tab in the background costs the server nothing
  if (ui.view && ui.view.update) await ui.view.update();
}


function route() {
  const hash = decodeURIComponent(location.hash.replace(/^#/, "")) || "/";
  if (hash.startsWith("/e/")) return experimentPage(hash.slice(3));
  if (hash === "/plan") return planPage();
  if (hash === "/race") return racePage();
  return listPage();
}

async function start() {
  setupToken();
  const got = await api("/config");
  ui.config = got.ok ? got.body : { admin: false, refresh_seconds: 5 };
  if (!got.ok) say(`cannot read the dashboard's settings: ${got.message} (${got.status})`);
  window.addEventListener("hashchange", () => { route(); main().focus(); });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
  await route();
  schedule();
}

start();
