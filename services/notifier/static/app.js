// Field app: live list of alerts (SSE with resend from Last-Event-ID), detail with where to go, each call
// and the frame's police view, actions, follow-ups of the day; for the supervisor, the console (filters,
// sort, pages, counts per state, bulk close) over GET /v1/alerts. Plain DOM, text only (never innerHTML
// with data).
"use strict";
const app = document.getElementById("app");
const ME = app.dataset.dyad || null;
const CONSOLE = app.classList.contains("console");
const TZ = app.dataset.tz || "America/Montreal";
const alerts = new Map();
let source = null;
let openId = null;

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined) continue;
    if (k === "class") e.className = v; else if (k.startsWith("data-") || k.startsWith("aria-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}
const time = (iso) => iso ? new Date(iso).toLocaleTimeString("fr-CA",
  { hour: "2-digit", minute: "2-digit", timeZone: TZ }) : "";

async function api(path, options = {}) {
  const resp = await fetch(path, Object.assign({ credentials: "same-origin",
    headers: { "Content-Type": "application/json", "Accept-Language": "fr" } }, options));
  if (resp.status === 401) { location.href = "/connexion"; throw new Error("session expirée"); }
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(typeof body.detail === "string" ? body.detail : `erreur ${resp.status}`);
  return body;
}

const since = (iso) => {
  if (!iso) return "";
  const min = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 60000));
  return min < 1 ? "à l'instant" : min < 60 ? `depuis ${min} min` : `depuis ${Math.floor(min / 60)} h ${min % 60}`;
};

let toastTimer = null;
function toast(text) {  // a short confirmation at the bottom of the screen (role=status: read aloud too)
  const t = document.getElementById("toast");
  t.textContent = text; t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 6000);
}

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

const ACK_DELAY_MS = Number(app.dataset.ackDelay || 180) * 1000;
const PENDING = ["created", "delivered", "seen", "escalated"];
const ACKABLE = [...PENDING, "snoozed", "deferred"];
const RANK = { securite_policiers: 0, dyade_prioritaire: 1, dyade_suggeree: 2 };

function countdown(a) {  // a pending call alert passes to the next dyad when this reaches zero
  if (!ME || a.kind !== "appel" || !PENDING.includes(a.state) || !a.assigned_at) return null;
  const left = Math.ceil((new Date(a.assigned_at).getTime() + ACK_DELAY_MS - Date.now()) / 60000);
  return el("span", { class: "badge stale" }, left > 0 ? `À prendre: ${left} min avant escalade` : "Escalade imminente");
}

// A dyad's home screen: its open call alerts here, follow-ups (one entry each) under "Suivis du jour".
function mine(a) { return ME ? a.open && a.dyad_id === ME && a.kind === "appel" : a.open || a.state === "missed_for_capacity"; }

function mapLink(geo) {
  return geo ? el("a", { href: geo, class: "map", onclick: (ev) => ev.stopPropagation() }, "Carte ↗") : null;
}

function card(a) {
  const title = a.kind === "suivi" ? "Suivi prévu" : (a.category_label || "Appel");
  return el("li", { class: `card ${a.level || "suivi"}`, "data-alert": a.alert_id, onclick: () => show(a.alert_id) },
    el("div", { class: "row" }, el("strong", {}, title),
       el("span", { class: "badge level" }, a.level_label || "Suivi")),
    el("div", { class: "row where" }, el("span", {}, a.where), mapLink(a.geo)),
    el("div", { class: "row muted" },
       el("span", {}, `${a.clock_local || time(a.call_received_at || a.created_at)} · ${since(a.last_call_at || a.assigned_at || a.created_at)}`
         + (a.calls_count > 1 ? ` · ${a.calls_count} appels` : "")),
       el("span", { class: "badge state", "data-state": a.state }, a.state_label)),
    a.target_label && !a.dyad_id ? el("div", { class: "muted" }, `Pour: ${a.target_label}`) : null,
    a.summary ? el("div", {}, a.summary) : null,
    countdown(a),
    a.frame_stale ? el("span", { class: "badge stale" }, "Fiche à réviser") :
      (a.has_frame ? el("span", { class: "badge" }, "Fiche Info-social") : null));
}

function render() {
  if (CONSOLE) return renderConsole();
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
  const paged = fresh && mine(a) && (!before || !mine(before) || (a.paged_at && a.paged_at !== before.paged_at));
  if (CONSOLE) scheduleLoad(); else render();
  if (paged) {
    const node = document.querySelector(`[data-alert="${a.alert_id}"]`);
    if (node) node.classList.add("new");
    if (navigator.vibrate) navigator.vibrate([300, 100, 300]);
    beep();
  }
  if (openId === a.alert_id) {
    renderDetailState(a);
    if (a.has_frame && !(before && before.has_frame)) show(a.alert_id);  // the person's frame has just arrived
  }
}

// --- supervisor console -------------------------------------------------------------------------
const query = { sector: "", level: "", state: "", age: "", sort: "created_at:desc", per_page: "50", page: 1 };
const selected = new Set();
let page = { alerts: [], counts: {}, total: 0, pages: 1, sectors: [] };
let loadTimer = null;
const STATE_LABELS = {};
for (const o of document.querySelectorAll("#filters select[name=state] option")) if (o.value && o.value !== "*") STATE_LABELS[o.value] = o.textContent;
const CHIPS = ["missed_for_capacity", "created", "delivered", "seen", "escalated", "declined", "deferred", "snoozed",
               "acknowledged", "closed", "expired"];

function consoleParams() {
  const p = new URLSearchParams();
  if (query.sector) p.append("sector", query.sector);
  if (query.level) p.append("level", query.level);
  if (query.state === "*") p.set("include_closed", "true"); else if (query.state) p.append("state", query.state);
  if (query.age) {
    const [lo, hi] = query.age.split("-");
    if (lo) p.set("min_age_minutes", lo);
    if (hi) p.set("max_age_minutes", hi);
  }
  const [sort, order] = query.sort.split(":");
  p.set("sort", sort); p.set("order", order); p.set("per_page", query.per_page); p.set("page", String(query.page));
  return p;
}

let loadSeq = 0;
async function loadConsole() {  // the latest request wins: a slower, older answer never overwrites it
  const seq = ++loadSeq;
  const data = await api(`/v1/alerts?${consoleParams()}`);
  if (seq !== loadSeq) return page;
  if (data.page > data.pages && query.page > 1) { query.page = data.pages; return loadConsole(); }
  page = data;
  for (const a of data.alerts) alerts.set(a.alert_id, a);
  renderConsole();
  return data;
}

function scheduleLoad() { clearTimeout(loadTimer); loadTimer = setTimeout(() => loadConsole().catch(() => {}), 250); }

function row(a) {
  const pick = el("input", { type: "checkbox", checked: selected.has(a.alert_id), "aria-label": `Sélectionner ${a.alert_id}`,
    onclick: (ev) => { ev.stopPropagation(); if (ev.target.checked) selected.add(a.alert_id); else selected.delete(a.alert_id); renderBulk(); } });
  const holder = a.dyad_id ? `Dyade ${a.dyad_id}` : (a.target_label || "—");
  return el("tr", { class: `card ${a.level || "suivi"}`, "data-alert": a.alert_id, onclick: () => show(a.alert_id) },
    el("td", { class: "pick" }, pick),
    el("td", { "data-label": "Niveau" }, el("span", { class: "badge level" }, a.level_label || "Suivi")),
    el("td", { "data-label": "État" }, el("span", { class: "badge state", "data-state": a.state }, a.state_label)),
    el("td", { "data-label": "Où" }, a.where, " ", mapLink(a.geo)),
    el("td", { "data-label": "Appel" }, a.kind === "suivi" ? "Suivi prévu" : (a.category_label || "Appel"),
       a.calls_count > 1 ? el("span", { class: "muted" }, ` · ${a.calls_count} appels`) : null),
    el("td", { "data-label": "Reçu" }, a.time_local || "", el("span", { class: "muted" }, ` · ${since(a.created_at)}`)),
    el("td", { "data-label": "Pour" }, holder));
}

function renderCounts() {
  const counts = page.counts || {};
  const chips = CHIPS.filter((s) => counts[s] || query.state === s).map((s) => el("button", {
    type: "button", class: `chip${query.state === s ? " on" : ""}`, "data-state": s, "aria-pressed": String(query.state === s),
    onclick: () => { setFilter("state", query.state === s ? "" : s); } }, `${STATE_LABELS[s] || s} `, el("b", {}, counts[s] || 0)));
  document.getElementById("counts").replaceChildren(...chips);
}

function renderBulk() {
  const bulk = document.getElementById("bulk");
  bulk.hidden = selected.size === 0;
  document.getElementById("bulk-count").textContent = `${selected.size} sélectionnée(s)`;
  const all = document.getElementById("select-all");
  const ids = page.alerts.map((a) => a.alert_id);
  all.checked = ids.length > 0 && ids.every((i) => selected.has(i));
}

function renderConsole() {
  const list = page.alerts.map((a) => alerts.get(a.alert_id) || a);
  document.getElementById("alerts").replaceChildren(...list.map(row));
  document.getElementById("count").textContent = page.total;
  document.getElementById("empty").hidden = list.length > 0;
  document.getElementById("page-info").textContent = `Page ${page.page || 1} / ${page.pages || 1} · ${page.total} alerte(s)`;
  document.getElementById("prev").disabled = (page.page || 1) <= 1;
  document.getElementById("next").disabled = (page.page || 1) >= (page.pages || 1);
  const sectors = document.querySelector("#filters select[name=sector]");
  const known = new Set([...sectors.options].map((o) => o.value));
  for (const s of page.sectors || []) if (!known.has(s)) sectors.append(el("option", { value: s }, s));
  renderCounts();
  renderBulk();
}

function setFilter(name, value) {
  query[name] = value; query.page = 1;
  const field = document.querySelector(`#filters [name=${name}]`);
  if (field) field.value = value;
  selected.clear();
  loadConsole().catch((e) => toast(e.message));
}

if (CONSOLE) {
  const filters = document.getElementById("filters");
  filters.onchange = (ev) => setFilter(ev.target.name, ev.target.value);
  filters.onsubmit = (ev) => ev.preventDefault();
  document.getElementById("prev").onclick = () => { query.page = Math.max(1, query.page - 1); loadConsole(); };
  document.getElementById("next").onclick = () => { query.page += 1; loadConsole(); };
  document.getElementById("select-all").onclick = (ev) => {
    for (const a of page.alerts) if (ev.target.checked) selected.add(a.alert_id); else selected.delete(a.alert_id);
    renderConsole();
  };
  const bulk = document.getElementById("bulk");
  bulk.onsubmit = async (ev) => {
    ev.preventDefault();
    const data = Object.fromEntries(new FormData(bulk));
    try {
      const out = await api("/v1/alerts/bulk-close", { method: "POST",
        body: JSON.stringify({ alert_ids: [...selected], reason: data.reason, disposition: data.disposition }) });
      selected.clear(); bulk.reset();
      toast(`${out.closed.length} alerte(s) fermée(s)` + (out.skipped.length ? `, ${out.skipped.length} ignorée(s)` : ""));
      await loadConsole();
    } catch (e) { toast(e.message); }
  };
}

// --- live stream --------------------------------------------------------------------------------
function connect(cursor) {
  const live = document.getElementById("live");
  source = new EventSource(`/v1/stream?cursor=${cursor}&lang=fr`);
  source.onopen = () => { live.textContent = "En direct"; live.className = "live on"; };
  source.onerror = () => {
    live.textContent = "Reconnexion…"; live.className = "live off";
    if (source.readyState === EventSource.CLOSED) {  // refused (expired token?): check, then retry
      initial().then((d) => connect(d.cursor)).catch(() => setTimeout(() => connect(cursor), 5000));
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
    ...data.alerts.map((a) => el("li", { class: "card compact", "data-followup": a.plan_person_key || a.alert_id,
      onclick: () => { alerts.set(a.alert_id, a); show(a.alert_id); } },
      el("div", { class: "row" }, el("strong", {}, a.kind === "suivi" ? `Suivi à faire${a.person_label ? ` — ${a.person_label}` : ""}`
                                                       : `Reporté: ${a.category_label}`),
         el("span", { class: "badge state", "data-state": a.state }, a.state_label)),
      el("div", { class: "row where" }, el("span", {}, a.where), mapLink(a.geo)),
      el("div", { class: "muted" }, a.time_local || ""),
      a.summary ? el("div", {}, a.summary) : null)),
    ...data.plans.map((p) => el("li", { class: "card compact", "data-followup": p.person_key },
      el("strong", {}, `Suivi prévu à ${p.clock_local || time(p.next_due_at)}${p.person_label ? ` — ${p.person_label}` : ""}`),
      el("div", { class: "row where" }, el("span", {}, p.where), mapLink(p.geo)),
      el("div", { class: "muted" }, p.note || `aux ${Math.round(p.every_minutes / 60)} h`))),
  ];
  document.getElementById("today").replaceChildren(...items);
  document.getElementById("today-empty").hidden = items.length > 0;
}

// --- detail -------------------------------------------------------------------------------------
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
    f.withheld || f.coming ? el("p", { class: "muted" }, f.note) : null,  // withheld: dyade/access.py; coming: on its way
    v.particularites ? el("p", {}, v.particularites) : null,
    section("À privilégier", v.interventions_a_privilegier, "favour"),
    section("À éviter", v.interventions_a_eviter, "avoid"),
    section("Qui appeler", contacts),
    section("Risques", v.risques),
    v.niveau_tolerance ? el("p", { class: "muted" }, `Niveau de tolérance: ${v.niveau_tolerance}`) : null,
    v.mode_liberation ? el("p", { class: "muted" }, `Mode de libération: ${v.mode_liberation}`) : null);
}

function whereToGo(a) {
  return el("div", { class: "section where-to-go", id: "d-where" },
    el("h3", {}, "Où aller"),
    el("p", { class: "address" }, a.where, " ", a.geo ? el("a", { href: a.geo, class: "map" }, "Ouvrir la carte ↗") : null),
    el("p", { class: "muted" }, [a.nature_code ? `Nature ${a.nature_code}` : null,
      a.kind === "suivi" ? `Prévu ${a.time_local || ""}` : `Appel reçu ${a.time_local || ""}`,
      a.call_id ? `appel ${a.call_id}` : null, a.person_label ? `Personne: ${a.person_label}` : null].filter(Boolean).join(" · ")));
}

function callsView(calls) {
  if (!calls || calls.length < 2) return null;
  return el("div", { class: "section calls" }, el("h3", {}, `Appels (${calls.length})`),
    el("ol", { id: "d-calls" }, ...calls.map((c) => el("li", { "data-call": c.call_id },
      el("div", { class: "row" }, el("strong", {}, `${c.time_local} — ${c.level_label}`),
         c.outcome === "repaged" ? el("span", { class: "badge stale" }, "A déclenché une nouvelle alerte") : null,
         c.cleared ? el("span", { class: "badge" }, "Terminé au CAD") : null),
      el("div", {}, c.where, " ", mapLink(c.geo), c.nature_code ? ` · nature ${c.nature_code}` : ""),
      c.reasons.length ? el("div", { class: "muted" }, c.reasons.map((r) => r.label).join(" · ")) : null,
      c.summary ? el("div", {}, c.summary) : null))));
}

const ackedHere = new Map();  // alert id -> when this device acknowledged it (the confirmation stays)

function renderDetailState(a) {
  const state = document.getElementById("d-state");
  if (state) { state.textContent = a.state_label; state.dataset.state = a.state; }
  const missed = a.state === "missed_for_capacity";
  document.getElementById("d-actions").hidden = !(a.open || (missed && !ME));
  const ack = document.querySelector("[data-action=acknowledge]");
  ack.hidden = !ACKABLE.includes(a.state);
  for (const part of ["decline", "snooze"]) {
    document.querySelector(`#d-actions [data-part=${part}]`).hidden = missed || (a.state === "acknowledged" && part === "decline");
  }
  const confirm = document.getElementById("d-confirm");
  if (a.state === "acknowledged") {
    const at = ackedHere.get(a.alert_id);
    confirm.textContent = at ? `✓ Prise en charge à ${time(at)}. La dyade est inscrite sur l'appel; terminez avec une disposition.`
                             : "✓ Prise en charge. Terminez avec une disposition une fois sur place.";
    confirm.hidden = false;
  } else confirm.hidden = true;
}

async function show(id) {
  openId = id;
  const dialog = document.getElementById("detail");
  const body = document.getElementById("d-body");
  document.getElementById("d-error").hidden = true;
  document.getElementById("d-confirm").hidden = true;
  body.replaceChildren(el("p", { class: "muted" }, "Chargement…"));
  if (!dialog.open) dialog.showModal();
  try {
    let a = await api(`/v1/alerts/${id}`);
    if (["created", "delivered", "escalated", "deferred"].includes(a.state) && (!ME || a.dyad_id === ME || !a.dyad_id)) {
      const s = await api(`/v1/alerts/${id}/seen`, { method: "POST" }).catch(() => null);
      if (s) a = Object.assign(a, s);
    }
    alerts.set(id, a); if (!CONSOLE) render();
    document.getElementById("d-title").textContent = a.kind === "suivi" ? "Suivi prévu" : (a.category_label || "Appel");
    body.replaceChildren(...[
      el("p", {}, el("span", { class: "badge level" }, a.level_label || "Suivi"), " ",
         el("span", { class: "badge", id: "d-state" }, a.state_label)),
      whereToGo(a),
      a.summary ? el("p", {}, a.summary) : null,
      section("Pourquoi la dyade", (a.reasons || []).map((r) => `${r.label} (${r.observed})`)),
      callsView(a.calls),
      ...(a.frames || []).map(frameView),
      a.frames && a.frames.length ? null : el("p", { class: "muted" }, "Aucune fiche Info-social pour cette personne."),
    ].filter(Boolean));
    renderDetailState(a);
  } catch (e) { showError(e); }
}

function showError(e) { const p = document.getElementById("d-error"); p.textContent = e.message; p.hidden = false; }

const DONE = { acknowledge: "Alerte prise en charge", decline: "Alerte refusée: passée à la dyade suivante",
               close: "Alerte fermée", snooze: "Alerte mise en veille" };

async function act(action, payload) {
  const button = document.querySelector("[data-action=acknowledge]");
  if (action === "acknowledge") button.disabled = true;
  try {
    const a = await api(`/v1/alerts/${openId}/${action}`, { method: "POST", body: payload ? JSON.stringify(payload) : undefined });
    if (action === "acknowledge") ackedHere.set(a.alert_id, new Date().toISOString());
    upsert(a, false);
    toast(DONE[action] || "Enregistré");
    if (action === "acknowledge") {
      renderDetailState(a);
      document.getElementById("d-confirm").scrollIntoView({ block: "nearest" });
    }
    else { document.getElementById("detail").close(); openId = null; }
    if (CONSOLE) await loadConsole();
  } catch (e) { showError(e); } finally { button.disabled = false; }
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

async function initial() {
  if (CONSOLE) return loadConsole();
  const data = await api("/v1/alerts?per_page=200");
  for (const a of data.alerts) alerts.set(a.alert_id, a);
  render();
  return data;
}

(async function start() {
  const data = await initial();
  connect(data.cursor);
  loadToday();
})();
