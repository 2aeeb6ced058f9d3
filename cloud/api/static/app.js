// gridwatch dashboard: log in, devices on a self-drawn map, live updates, dead letters.
// No build step and nothing from the internet: plain DOM, SVG and fetch.
"use strict";

const API = "/api/v1";
const STALE_MS = 5 * 60 * 1000;   // a device not heard from for this long is shown as stale
const SVG_NS = "http://www.w3.org/2000/svg";
const $ = (sel) => document.querySelector(sel);

const state = {
  token: sessionStorage.getItem("gw.token"),
  me: null,
  devices: new Map(),
  selected: null,
  track: [],
  trackNote: "",
  flash: new Set(),
  dl: { items: [], total: 0, filter: {}, loaded: false, unseen: 0 },
  live: null,
  tab: "devices",
  renderPending: false,
};

class AuthError extends Error {}

// ---------------------------------------------------------------- API access

async function api(path, opts = {}) {
  const headers = Object.assign({}, opts.headers, { Authorization: `Bearer ${state.token}` });
  const r = await fetch(API + path, Object.assign({}, opts, { headers }));
  if (r.status === 401) { logout(false); throw new AuthError("session ended"); }
  if (!r.ok) {
    const body = await r.json().catch(() => ({}));
    throw new Error(`${r.status}: ${typeof body.detail === "string" ? body.detail : r.statusText}`);
  }
  return r.status === 204 ? null : r.json();
}

async function fetchAll(path, max = 10000) {
  const items = [];
  let total = 0;
  const sep = path.includes("?") ? "&" : "?";
  for (let offset = 0; items.length < max; offset += 1000) {
    const page = await api(`${path}${sep}limit=1000&offset=${offset}`);
    items.push(...page.items);
    total = page.total;
    if (items.length >= total || page.items.length === 0) break;
  }
  return { items, total };
}

// ---------------------------------------------------------------- session

async function login(ev) {
  ev.preventDefault();
  const form = new FormData(ev.target);
  const body = new URLSearchParams({ username: form.get("username"), password: form.get("password") });
  const r = await fetch(API + "/token", { method: "POST", body });
  if (!r.ok) {
    $("#login-error").textContent = r.status === 429
      ? "Too many failed attempts for this user: wait a minute." : "Wrong user name or password.";
    return;
  }
  state.token = (await r.json()).access_token;
  sessionStorage.setItem("gw.token", state.token);
  ev.target.reset();
  $("#login-error").textContent = "";
  await start();
}

async function start() {
  if (!state.token) return showLogin(true);
  try {
    state.me = await api("/me");
  } catch (e) {
    // On 401 api() has already gone back to the login form.
    if (!(e instanceof AuthError)) $("#login-error").textContent = `Cannot reach the API: ${e.message}`;
    return;
  }
  showLogin(false);
  const scope = state.me.scope ? `, grid ${state.me.scope}` : "";
  $("#user").textContent = `${state.me.name} (${state.me.role}${scope})`;
  $("#dl-tab").hidden = !["admin", "operator"].includes(state.me.role);
  await loadDevices();
  startLive();
}

function logout(revoke = true) {
  if (revoke && state.token) {
    fetch(API + "/token", { method: "DELETE", headers: { Authorization: `Bearer ${state.token}` } }).catch(() => {});
  }
  state.token = null;
  sessionStorage.removeItem("gw.token");
  stopLive();
  showLogin(true);
}

function showLogin(on) {
  $("#login").hidden = !on;
  $("#tabs").hidden = on;
  $("#who").hidden = on;
  for (const s of document.querySelectorAll(".tab")) s.hidden = on || s.id !== state.tab;
}

function switchTab(name) {
  state.tab = name;
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const s of document.querySelectorAll(".tab")) s.hidden = s.id !== name;
  if (name === "deadletters") {
    state.dl.unseen = 0;
    renderBadge();
    if (!state.dl.loaded) loadDeadLetters(false).catch(report);
  }
}

function report(err) {
  if (!(err instanceof AuthError)) $("#map-note").textContent = `Error: ${err.message}`;
}

// ---------------------------------------------------------------- devices

async function loadDevices() {
  const query = $("#only-unregistered").checked ? "?registered=false" : "";
  const { items, total } = await fetchAll("/devices" + query);
  state.devices = new Map(items.map((d) => [d.dev, d]));
  $("#dev-count").textContent = `${total} device${total === 1 ? "" : "s"}`;
  if (state.selected && !state.devices.has(state.selected)) selectDevice(null);
  render();
}

function deviceState(d) {
  if (d.online === false) return "offline";
  const age = d.last_seen ? Date.now() - Date.parse(d.last_seen) : Infinity;
  return age < STALE_MS ? "fresh" : "stale";
}

function ago(iso) {
  if (!iso) return "never";
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

function cell(tr, text, cls) {
  const td = tr.insertCell();
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function renderDeviceTable() {
  const tbody = $("#dev-table tbody");
  tbody.replaceChildren();
  const labels = { fresh: "online", stale: "stale", offline: "offline" };
  for (const d of [...state.devices.values()].sort((a, b) => a.dev.localeCompare(b.dev))) {
    const tr = tbody.insertRow();
    const st = deviceState(d);
    const p = d.last_position;
    cell(tr, d.dev);
    cell(tr, d.kind || "");
    cell(tr, d.registered ? "yes" : "no");
    cell(tr, labels[st], `state-${st}`);
    cell(tr, ago(d.last_seen)).title = d.last_seen || "";
    cell(tr, p ? `${p.lat.toFixed(5)}, ${p.lon.toFixed(5)} ±${Math.round(p.acc)} m` : "").title = p ? p.ts : "";
    cell(tr, p && p.grid ? p.grid : "");
    if (d.dev === state.selected) tr.classList.add("selected");
    if (state.flash.has(d.dev)) tr.classList.add("flash");
    tr.addEventListener("click", () => selectDevice(d.dev === state.selected ? null : d.dev));
  }
  state.flash.clear();
}

async function selectDevice(dev) {
  state.selected = dev;
  state.track = [];
  state.trackNote = "";
  render();
  if (!dev) return;
  try {
    const page = await api(`/devices/${encodeURIComponent(dev)}/positions?limit=10000`);
    if (state.selected !== dev) return;
    state.track = page.items;
    state.trackNote = page.total > page.items.length
      ? `${dev}: first ${page.items.length} of ${page.total} positions of the last 24 h`
      : `${dev}: ${page.total} positions in the last 24 h`;
    render();
  } catch (e) { report(e); }
}

// ---------------------------------------------------------------- map

function svg(tag, attrs, parent) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (parent) parent.appendChild(el);
  return el;
}

// An equirectangular projection fitted to the bounding box of what is shown.
function projection(points, W, H, margin) {
  let [minLat, maxLat, minLon, maxLon] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const p of points) {
    minLat = Math.min(minLat, p.lat); maxLat = Math.max(maxLat, p.lat);
    minLon = Math.min(minLon, p.lon); maxLon = Math.max(maxLon, p.lon);
  }
  const pad = 0.001;  // about 100 m around a lone point
  if (maxLat - minLat < 2 * pad) { minLat -= pad; maxLat += pad; }
  if (maxLon - minLon < 2 * pad) { minLon -= pad; maxLon += pad; }
  const kx = Math.cos(((minLat + maxLat) / 2) * Math.PI / 180);
  const scale = Math.min((W - 2 * margin) / ((maxLon - minLon) * kx), (H - 2 * margin) / (maxLat - minLat));
  const ox = (W - (maxLon - minLon) * kx * scale) / 2;
  const oy = (H - (maxLat - minLat) * scale) / 2;
  return {
    x: (lon) => ox + (lon - minLon) * kx * scale,
    y: (lat) => H - oy - (lat - minLat) * scale,
    metresPerPx: 111320 / scale,
  };
}

function drawScale(map, proj, H) {
  const target = proj.metresPerPx * 120;
  const pow = 10 ** Math.floor(Math.log10(target));
  const metres = [5, 2, 1].map((m) => m * pow).find((m) => m <= target) || pow;
  const px = metres / proj.metresPerPx;
  svg("line", { x1: 20, y1: H - 20, x2: 20 + px, y2: H - 20, class: "scale" }, map);
  const label = svg("text", { x: 20, y: H - 26 }, map);
  label.textContent = metres >= 1000 ? `${metres / 1000} km` : `${metres} m`;
}

function renderMap() {
  const map = $("#map");
  map.replaceChildren();
  const [W, H] = [800, 500];
  const shown = [...state.devices.values()].filter((d) => d.last_position);
  const points = shown.map((d) => d.last_position).concat(state.track);
  $("#map-note").textContent = points.length ? state.trackNote : "No positions in your grids yet.";
  if (!points.length) return;
  const proj = projection(points, W, H, 30);
  if (state.track.length > 1) {
    const pts = state.track.map((p) => `${proj.x(p.lon).toFixed(1)},${proj.y(p.lat).toFixed(1)}`).join(" ");
    svg("polyline", { points: pts, class: "track" }, map);
  }
  for (const d of shown) {
    const p = d.last_position;
    const [x, y] = [proj.x(p.lon), proj.y(p.lat)];
    const cls = `dot ${deviceState(d)}${d.dev === state.selected ? " selected" : ""}`;
    const dot = svg("circle", { cx: x, cy: y, r: 6, class: cls }, map);
    svg("title", {}, dot).textContent = `${d.dev} ${p.ts}`;
    dot.addEventListener("click", () => selectDevice(d.dev === state.selected ? null : d.dev));
    svg("text", { x: x + 8, y: y - 8 }, map).textContent = d.dev;
  }
  drawScale(map, proj, H);
}

function render() {
  renderDeviceTable();
  renderMap();
}

function scheduleRender() {
  if (state.renderPending) return;
  state.renderPending = true;
  setTimeout(() => { state.renderPending = false; render(); }, 250);
}

// ---------------------------------------------------------------- live updates

function setLive(mode) {
  const el = $("#live-state");
  el.className = `live ${mode}`;
  el.title = { on: "live updates on", retry: "reconnecting", off: "live updates off" }[mode];
}

function stopLive() {
  if (state.live) state.live.abort();
  state.live = null;
  setLive("off");
}

// fetch() rather than EventSource, so the token travels in a header and not in the URL.
async function startLive() {
  stopLive();
  const ctrl = new AbortController();
  state.live = ctrl;
  let delay = 1000;
  while (state.live === ctrl) {
    try {
      const r = await fetch(API + "/live", { headers: { Authorization: `Bearer ${state.token}` }, signal: ctrl.signal });
      if (r.status === 401) return logout(false);
      if (r.ok) {
        setLive("on");
        delay = 1000;
        await readEvents(r.body, onEvent);
      }
    } catch (e) {
      if (ctrl.signal.aborted) return;
    }
    if (state.live !== ctrl) return;
    setLive("retry");
    await new Promise((ok) => setTimeout(ok, delay));
    delay = Math.min(delay * 2, 30000);
  }
}

async function readEvents(body, handler) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let end;
    while ((end = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length) handler(event, JSON.parse(data.join("\n")));
    }
  }
}

function onPosition(e) {
  let d = state.devices.get(e.dev);
  if (!d) {
    if ($("#only-unregistered").checked) return;  // unknown registration: leave it to a reload
    d = { dev: e.dev, kind: null, registered: false, online: null, first_seen: e.received_at,
          last_seen: null, last_position: null };
    state.devices.set(e.dev, d);
    $("#dev-count").textContent = `${state.devices.size} devices`;
  }
  // ISO strings of one format compare like the instants they name.
  if (!d.last_position || e.ts >= d.last_position.ts) {
    d.last_position = { ts: e.ts, lat: e.lat, lon: e.lon, acc: e.acc, grid: e.grid };
  }
  if (!d.last_seen || e.received_at > d.last_seen) d.last_seen = e.received_at;
  const last = state.track[state.track.length - 1];
  if (state.selected === e.dev && (!last || e.ts > last.ts)) state.track.push(e);
  state.flash.add(e.dev);
  scheduleRender();
}

function onDeadLetter(e) {
  const f = state.dl.filter;
  if ((f.reason && f.reason !== e.reason) || (f.dev && f.dev !== e.dev)) return;
  state.dl.items.unshift(e);
  state.dl.total += 1;
  if (state.tab !== "deadletters") state.dl.unseen += 1;
  renderBadge();
  renderDeadLetters();
}

function onEvent(type, data) {
  if (type === "position") onPosition(data);
  else if (type === "deadletter") onDeadLetter(data);
}

// ---------------------------------------------------------------- dead letters

async function loadDeadLetters(append) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(state.dl.filter)) if (v) params.set(k, v);
  params.set("limit", "100");
  params.set("offset", append ? String(state.dl.items.length) : "0");
  const page = await api(`/deadletters?${params}`);
  state.dl.items = append ? state.dl.items.concat(page.items) : page.items;
  state.dl.total = page.total;
  state.dl.loaded = true;
  renderDeadLetters();
}

function payloadText(item) {
  if (item.payload === undefined) return "(live: filter or reload to see the payload)";
  const head = item.encoding === "base64" ? "[base64] " : "";
  const tail = item.truncated ? ` … (${item.size} bytes in all)` : "";
  return head + item.payload + tail;
}

function renderDeadLetters() {
  const tbody = $("#dl-table tbody");
  tbody.replaceChildren();
  for (const item of state.dl.items) {
    const tr = tbody.insertRow();
    cell(tr, item.received_at);
    cell(tr, item.reason);
    cell(tr, item.dev || "");
    cell(tr, item.topic);
    cell(tr, item.detail);
    cell(tr, String(item.size));
    cell(tr, payloadText(item), "payload");
  }
  $("#dl-count").textContent = `${state.dl.total} dead letter${state.dl.total === 1 ? "" : "s"}`;
  $("#dl-more").hidden = state.dl.items.length >= state.dl.total;
}

function renderBadge() {
  const badge = $("#dl-badge");
  badge.hidden = state.dl.unseen === 0;
  badge.textContent = String(state.dl.unseen);
}

function filterDeadLetters(ev) {
  ev.preventDefault();
  const form = new FormData(ev.target);
  state.dl.filter = { reason: form.get("reason").trim(), dev: form.get("dev").trim(), since: form.get("since").trim() };
  loadDeadLetters(false).catch((e) => { $("#dl-count").textContent = e.message; });
}

// ---------------------------------------------------------------- wiring

document.addEventListener("DOMContentLoaded", () => {
  $("#login-form").addEventListener("submit", (ev) => login(ev).catch(report));
  $("#logout").addEventListener("click", () => logout(true));
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => switchTab(b.dataset.tab));
  $("#reload-devices").addEventListener("click", () => loadDevices().catch(report));
  $("#only-unregistered").addEventListener("change", () => loadDevices().catch(report));
  $("#dl-filter").addEventListener("submit", filterDeadLetters);
  $("#dl-more").addEventListener("click", () => loadDeadLetters(true).catch(report));
  setInterval(() => { if (state.me && state.token) renderDeviceTable(); }, 15000);
  start().catch(report);
});
