// Field app: live list of alerts (SSE with resend from Last-Event-ID), detail with the frame's police
// view, actions, follow-ups of the day. Plain DOM, text only (never innerHTML with data).
"use strict";
const app = document.getElementById("app");
const ME = app.dataset.dyad || null;
const alerts = new Map();
let source = null;
let openId = null;

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k.startsWith("data-")) e.setAttribute(k, v); else e[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}
const time = (iso) => iso ? new Date(iso).toLocaleTimeString("fr-CA",
  { hour: "2-digit", minute: "2-digit", timeZone: "America/Montreal" }) : "";

async function api(path, options = {}) {
  const resp = await fetch(path, Object.assign({ credentials: "same-origin",
    headers: { "Content-Type": "application/json", "Accept-Language": "fr" } }, options));
  if (resp.status === 401) { location.href = "/connexion"; throw new Error("session expirée"); }
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(body.detail || `erreur ${resp.status}`);
  return body;
}

const since = (iso) => {
  if (!iso) return "";
  const min = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 60000));
  return min < 1 ? "à l'instant" : min < 60 ? `depuis ${min} min` : `depuis ${Math.floor(min / 60)} h ${min % 60}`;
};

let audio = null;
function beep() {  // a short two-tone signal; browsers allow it once the user has touched the page
  try {
    audio = audio || new AudioContext();
    [0, 0.25].forEach((t, i) => {
      const o = audio.createOscillator(), g = audio.createGain();
      o.frequency.value = i ? 660 : 880; g.gain.value = 0.2;
      o.connect(g).connect(audio.destination); o.start(audio.currentTime + t); o.stop(audio.currentTime + t + 0.18);
    });
  } catch (e) { /* no audio on this device */ }
}

// A dyad sees its own open alerts; the supervisor sees every open one and the calls missed for capacity.
const ACK_DELAY_MS = Number(app.dataset.ackDelay || 180) * 1000;
const PENDING = ["created", "delivered", "seen", "escalated"];
const RANK = { securite_policiers: 0, dyade_prioritaire: 1, dyade_suggeree: 2 };

function countdown(a) {  // a pending call alert passes to the next dyad when this reaches zero
  if (!ME || a.kind !== "appel" || !PENDING.includes(a.state) || !a.assigned_at) return null;
  const left = Math.ceil((new Date(a.assigned_at).getTime() + ACK_DELAY_MS - Date.now()) / 60000);
  return el("span", { class: "badge stale" }, left > 0 ? `À prendre: ${left} min avant escalade` : "Escalade imminente");
}

function mine(a) { return ME ? a.open && a.dyad_id === ME : a.open || a.state === "missed_for_capacity"; }

function card(a) {
  const title = a.kind === "suivi" ? "Suivi prévu" : (a.category_label || "Appel");
  return el("li", { class: `card ${a.level || "suivi"}`, "data-alert": a.alert_id, onclick: () => show(a.alert_id) },
    el("div", { class: "row" }, el("strong", {}, title),
       el("span", { class: "badge level" }, a.level_label || "Suivi")),
    el("div", { class: "row muted" },
       el("span", {}, `Secteur ${a.sector || "?"} · ${time(a.call_received_at || a.created_at)} · ${since(a.assigned_at || a.created_at)}`),
       el("span", { class: "badge state", "data-state": a.state }, a.state_label)),
    a.target_label && !a.dyad_id ? el("div", { class: "muted" }, `Pour: ${a.target_label}`) : null,
    a.summary ? el("div", {}, a.summary) : null,
    countdown(a),
    a.frame_stale ? el("span", { class: "badge stale" }, "Fiche à réviser") :
      (a.has_frame ? el("span", { class: "badge" }, "Fiche Info-social") : null));
}

function render() {
  const rank = (a) => (RANK[a.level] ?? 3) + (PENDING.includes(a.state) ? 0 : 10);  // to act on, most serious first
  const list = [...alerts.values()].filter(mine)
    .sort((x, y) => rank(x) - rank(y) || (y.created_at || "").localeCompare(x.created_at || ""));
  document.getElementById("alerts").replaceChildren(...list.map(card));
  document.getElementById("count").textContent = list.length;
  document.getElementById("empty").hidden = list.length > 0;
}

function upsert(a, fresh) {
  const before = alerts.get(a.alert_id);
  alerts.set(a.alert_id, a);
  render();
  if (fresh && mine(a) && (!before || !mine(before))) {
    const node = document.querySelector(`[data-alert="${a.alert_id}"]`);
    if (node) node.classList.add("new");
    if (navigator.vibrate) navigator.vibrate([300, 100, 300]);
    beep();
  }
  if (openId === a.alert_id) renderDetailState(a);
}

function connect(cursor) {
  const live = document.getElementById("live");
  source = new EventSource(`/v1/stream?cursor=${cursor}&lang=fr`);
  source.onopen = () => { live.textContent = "En direct"; live.className = "live on"; };
  source.onerror = () => {
    live.textContent = "Reconnexion…"; live.className = "live off";
    if (source.readyState === EventSource.CLOSED) {  // refused (expired token?): check, then retry
      api("/v1/alerts").then((d) => { for (const a of d.alerts) alerts.set(a.alert_id, a); render(); connect(d.cursor); })
        .catch(() => setTimeout(() => connect(cursor), 5000));
    }
  };
  source.addEventListener("alert", (ev) => {
    const data = JSON.parse(ev.data);
    upsert(data.alert, true);
    loadToday();
  });
}

async function loadToday() {
  const data = await api("/v1/followups/today");
  const items = [
    ...data.alerts.map((a) => el("li", { class: "card compact", onclick: () => { alerts.set(a.alert_id, a); show(a.alert_id); } },
      el("strong", {}, a.kind === "suivi" ? "Suivi à faire" : `Reporté: ${a.category_label}`),
      el("div", { class: "muted" }, `${a.state_label} · ${time(a.due_at || a.created_at)}`))),
    ...data.plans.map((p) => el("li", { class: "card compact" }, el("strong", {}, `Suivi prévu à ${time(p.next_due_at)}`),
      el("div", { class: "muted" }, p.note || `aux ${Math.round(p.every_minutes / 60)} h`))),
  ];
  document.getElementById("today").replaceChildren(...items);
  document.getElementById("today-empty").hidden = items.length > 0;
}

function section(title, items, cls) {
  if (!items || !items.length) return null;
  return el("div", { class: "section" }, el("h3", {}, title), el("ul", { class: cls || "" }, ...items.map((i) => el("li", {}, i))));
}

function frameView(f) {
  const v = f.police_view || {};
  const contacts = (v.contacts || []).map((c) => el("span", {}, `${c.name} (${c.role}) `,
    c.phone ? el("a", { href: `tel:${c.phone}` }, c.phone) : null, c.when_to_call ? ` — ${c.when_to_call}` : null));
  return el("div", { class: "frame" },
    el("h3", {}, "Fiche Info-social ", f.stale ? el("span", { class: "badge stale" }, "Périmée: à valider") : null),
    v.particularites ? el("p", {}, v.particularites) : null,
    section("À privilégier", v.interventions_a_privilegier, "favour"),
    section("À éviter", v.interventions_a_eviter, "avoid"),
    section("Qui appeler", contacts),
    section("Risques", v.risques),
    v.niveau_tolerance ? el("p", { class: "muted" }, `Niveau de tolérance: ${v.niveau_tolerance}`) : null,
    v.mode_liberation ? el("p", { class: "muted" }, `Mode de libération: ${v.mode_liberation}`) : null);
}

function renderDetailState(a) {
  const state = document.getElementById("d-state");
  if (state) state.textContent = a.state_label;
  const missed = a.state === "missed_for_capacity";
  document.getElementById("d-actions").hidden = !(a.open || (missed && !ME));
  for (const node of document.querySelectorAll("#d-actions > :not(details:nth-of-type(2))")) node.hidden = missed;
}

async function show(id) {
  openId = id;
  const dialog = document.getElementById("detail");
  const body = document.getElementById("d-body");
  document.getElementById("d-error").hidden = true;
  body.replaceChildren(el("p", { class: "muted" }, "Chargement…"));
  if (!dialog.open) dialog.showModal();
  try {
    let a = await api(`/v1/alerts/${id}`);
    if (["created", "delivered", "escalated", "deferred"].includes(a.state) && (!ME || a.dyad_id === ME || !a.dyad_id)) {
      const s = await api(`/v1/alerts/${id}/seen`, { method: "POST" }).catch(() => null);
      if (s) a = Object.assign(a, s);
    }
    alerts.set(id, a); render();
    document.getElementById("d-title").textContent = a.kind === "suivi" ? "Suivi prévu" : (a.category_label || "Appel");
    body.replaceChildren(...[
      el("p", {}, el("span", { class: "badge level" }, a.level_label || "Suivi"), " ",
         el("span", { class: "badge", id: "d-state" }, a.state_label)),
      el("p", { class: "muted" }, `Secteur ${a.sector || "?"} · appel ${a.call_id || "—"} · reçu à ${time(a.call_received_at || a.created_at)}`),
      a.summary ? el("p", {}, a.summary) : null,
      section("Pourquoi la dyade", (a.reasons || []).map((r) => `${r.label} (${r.observed})`)),
      ...(a.frames || []).map(frameView),
      a.frames && a.frames.length ? null : el("p", { class: "muted" }, "Aucune fiche Info-social pour cette personne."),
    ].filter(Boolean));
    renderDetailState(a);
  } catch (e) { showError(e); }
}

function showError(e) { const p = document.getElementById("d-error"); p.textContent = e.message; p.hidden = false; }

async function act(action, payload) {
  try {
    const a = await api(`/v1/alerts/${openId}/${action}`, { method: "POST", body: payload ? JSON.stringify(payload) : undefined });
    upsert(a, false);
    if (action !== "acknowledge") document.getElementById("detail").close();
  } catch (e) { showError(e); }
}

document.querySelector("[data-close]").onclick = () => { document.getElementById("detail").close(); openId = null; };
document.querySelector("[data-action=acknowledge]").onclick = () => act("acknowledge");
for (const form of document.querySelectorAll("form[data-form]")) {
  form.onsubmit = (ev) => {
    ev.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    if (data.minutes) data.minutes = Number(data.minutes);
    if (data.note === "") delete data.note;
    act(form.dataset.form, data);
  };
}

async function enablePush() {
  const reg = await navigator.serviceWorker.register("/sw.js");
  const { public_key } = await api("/v1/push/key");
  const key = Uint8Array.from(atob(public_key.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  await api("/v1/subscriptions", { method: "POST", body: JSON.stringify(sub.toJSON()) });
  document.getElementById("push").hidden = true;
}
if ("serviceWorker" in navigator && "PushManager" in window && ME) {
  const b = document.getElementById("push");
  b.hidden = false;
  b.onclick = () => enablePush().catch((e) => alert(`Notifications indisponibles: ${e.message}`));
}

setInterval(render, 30_000);  // keep "depuis N min" and the escalation countdown current
if (navigator.wakeLock) {       // keep the screen on while the app is open during a shift
  const lock = () => navigator.wakeLock.request("screen").catch(() => {});
  lock(); document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && lock());
}

(async function start() {
  const data = await api("/v1/alerts");
  for (const a of data.alerts) alerts.set(a.alert_id, a);
  render();
  connect(data.cursor);
  loadToday();
})();
