// signpose web app: live recognition from the camera (landmarks or frames mode), clip
// upload, vocabulary. No build step and no CDN: everything comes from this server, or, as
// a static site (`signpose export RUN --web DIR`), from the site itself with no server.
// Signs are classified on this device (device.js, ONNX Runtime Web) when the model can run
// here, on the server otherwise. URLs are relative: the site works at any path.
"use strict";

const $ = (id) => document.getElementById(id);
const t = (english, vars) => window.SignposeI18n.t(english, vars); // the page's language (i18n.js)
const PARTS = { pose: 33, face: 468, left_hand: 21, right_hand: 21 };
// Drawn connections: each hand's fingers and the upper body (MediaPipe's numbering).
const HAND = [[0, 1], [1, 2], [2, 3], [3, 4], [0, 5], [5, 6], [6, 7], [7, 8], [5, 9], [9, 10], [10, 11],
  [11, 12], [9, 13], [13, 14], [14, 15], [15, 16], [13, 17], [17, 18], [18, 19], [19, 20], [0, 17]];
const BODY = [[11, 12], [11, 13], [13, 15], [12, 14], [14, 16], [11, 23], [12, 24], [23, 24]];
const RTL = /[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]/; // Hebrew, Arabic and their presentation forms
const AUTO_BUDGET_MS = 10000; // auto mode: MediaPipe in the browser must be running by then
const USABLE_FPS = 3; // and at least this fast, or frames mode takes over
const HEALTH_EVERY_MS = 5000; // the badge checks the server this often while the camera is off
const OVERLAY_FADE_MS = 500; // points older than this are cleared: no frozen skeleton over a moving video
// An exported site: no server at all (classification here, no uploads, no frames mode).
const STATIC_SITE = !!document.querySelector('meta[name="signpose-site"]');
const DEVICE_FPS = 30; // the camera's rate in landmarks mode, as the server assumes for it

const state = {
  health: null, mode: null, ws: null, stream: null, holistic: null, running: false, starting: false,
  inflight: 0, drawn: 0, sentence: [], timer: null, retry: 0, reconnect: null, rtl: false,
  hold: { sign: null, count: 0 }, landmarkTimes: [], predictions: 0,
  device: {}, local: null, // the on-device classifier per run (a promise), and this stream's decoder
};
document.body.dataset.drawn = "0";
document.body.dataset.commits = "0";
document.body.dataset.predictions = "0";

// Messages stay until the next message; counters have their own line and never overwrite them.
function setStatus(text) { $("status").textContent = text; $("status-sep").hidden = !text; }
function setCounts(text) { $("counts").textContent = text; }

// A sign's name as an element: its own direction, and lang="ar" for Arabic script (screen
// readers and fonts read it as Arabic).
function nameSpan(text) {
  const span = document.createElement("span");
  span.dir = "auto"; span.textContent = text;
  if (RTL.test(text)) span.lang = "ar";
  return span;
}

// Server messages name command-line flags (for API users); the page says it in words.
function plain(text) { return String(text).replace(/\s*\(--[a-z-]+\)/g, ""); }
function announce(text) { $("announce").textContent = text; }

// connected | reconnecting | offline | connecting: the page's link to the server, always shown
function setConnection(kind, text) {
  const el = $("conn");
  el.dataset.state = kind;
  el.textContent = text || t({ connected: "connected", reconnecting: "reconnecting…", offline: "offline",
    connecting: "connecting…", device: "on this device", busy: "busy" }[kind]);
  document.body.dataset.connection = kind;
}

// -- model, accuracy, vocabulary ----------------------------------------------------------
function accuracyNote(acc) {
  if (!acc || acc.accuracy == null) return t("This run has no measured accuracy on a person it never saw.");
  const data = t({ synthetic: "synthetic signers made by signpose (not real people)",
    recorded: "recordings", unknown: "its test data" }[acc.data || "unknown"]);
  const who = acc.signer ? (/^signer/i.test(acc.signer) ? acc.signer : t("signer {name}", { name: acc.signer }))
    : t("test samples");
  return t("Measured on {data}: {who}, never seen in training, {acc}% of {n} samples (95% interval {lo}–{hi}%). " +
    "Expect less on people and cameras unlike those.", { data, who, acc: (100 * acc.accuracy).toFixed(1),
    n: acc.samples, lo: (100 * acc.accuracy_ci95[0]).toFixed(0), hi: (100 * acc.accuracy_ci95[1]).toFixed(0) });
}

// ?run=NAME of the run chosen, where the server offers several ("" for its default)
function runQuery(sep = "?") { return state.run ? `${sep}run=${encodeURIComponent(state.run)}` : ""; }

// An exported site's model.json in the server's reply shapes (no server to ask).
async function siteInfo() {
  let response;
  try { response = await fetch("model.json"); } catch (e) { throw new Error("offline"); } // retried
  let spec = null;
  if (response.ok) { try { spec = await response.json(); } catch (e) { spec = null; } }
  if (!spec || !Array.isArray(spec.classes)) throw new SiteBroken(`this site's model.json is ${response.ok ? "damaged" : "missing"}`);
  state.spec = spec;
  const health = { run: spec.run, runs: [spec.run], model: spec.model, features: spec.feature_set,
    backend: "this device", modes: ["landmarks"], accuracy: spec.accuracy, live: spec.live,
    extraction: spec.extraction };
  const signs = spec.classes.map((id, i) => ({ sign_id: id, sign: spec.names[i] }));
  return [health, signs];
}

async function loadInfo() {
  let health, signs;
  if (STATIC_SITE) [health, signs] = await siteInfo();
  else {
    health = await (await fetch(`api/health${runQuery()}`)).json();
    signs = await (await fetch(`api/signs${runQuery()}`)).json();
  }
  state.health = health;
  if (health.runs && health.runs.length > 1) { // a choice of models
    $("run-choice").hidden = false;
    if ($("run-select").options.length !== health.runs.length) {
      $("run-select").replaceChildren(...health.runs.map((r) => Object.assign(document.createElement("option"),
        { value: r, textContent: r })));
    }
    $("run-select").value = health.run;
  }
  state.rtl = signs.some((s) => RTL.test(s.sign));
  // the sentence reads in the names' own direction: the first sign at the reading start
  $("sentence").dir = state.rtl ? "rtl" : "ltr";
  $("history").dir = state.rtl ? "rtl" : "ltr";
  $("vocab").dir = state.rtl ? "rtl" : "ltr"; // the columns run in the names' direction
  const few = signs.slice(0, 3).map((s) => s.sign).join(", ");
  $("model-line").textContent = t("Recognises {n} signs", { n: signs.length }) +
    (signs.length ? ` (${few}${signs.length > 3 ? ", …" : ""})` : "") + (state.rtl ? t(", named in Arabic script.") : ".");
  $("model-line").title = `run ${health.run}: ${health.model} on ${health.features} (${health.backend})`;
  $("accuracy").textContent = accuracyNote(health.accuracy);
  $("threshold").value = health.live.threshold;
  $("threshold-value").textContent = Number(health.live.threshold).toFixed(2);
  document.documentElement.style.setProperty("--t", `${(100 * health.live.threshold).toFixed(1)}%`);
  $("vocab-count").textContent = signs.length;
  state.vocabulary = signs.map((s) => s.sign);
  $("vocab").replaceChildren(...signs.map((s) => {
    const li = document.createElement("li");
    li.append(nameSpan(s.sign));
    li.dataset.signId = s.sign_id;
    return li;
  }));
  setConnection(STATIC_SITE ? "device" : "connected");
  if (health.recording && !state.takes) { $("record").hidden = false; loadTakes(); pollTraining(); }
}

// A static site without its files: said once, in words, instead of a blank page or retries.
class SiteBroken extends Error {}
function siteBroken(message) {
  const text = `${message}: export it again with signpose export RUN --web DIR`;
  $("model-line").textContent = text;
  $("model-line").classList.add("error-note");
  setConnection("offline", t("the site is incomplete"));
  setStatus(text);
  $("start").disabled = true;
}

async function loadInfoUntilReachable() {
  for (let wait = 500; ; wait = Math.min(8000, wait * 2)) {
    try { await loadInfo(); return; } catch (e) {
      if (e instanceof SiteBroken) { siteBroken(e.message); return; }
      setConnection("offline", t("offline: cannot reach the server, retrying"));
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

// -- drawing -----------------------------------------------------------------------------
function clearOverlay() {
  const canvas = $("overlay");
  canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
}

function drawParts(parts) {
  if (!state.running && !state.replaying) return; // a late answer after Stop draws nothing
  const video = $("video"), canvas = $("overlay");
  canvas.width = video.videoWidth || 640;
  canvas.height = video.videoHeight || 480;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const point = (arr, i) => [arr[3 * i] * canvas.width, arr[3 * i + 1] * canvas.height];
  const lines = (arr, pairs, color) => {
    if (!arr) return;
    ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.beginPath();
    for (const [a, b] of pairs) { const p = point(arr, a), q = point(arr, b); ctx.moveTo(...p); ctx.lineTo(...q); }
    ctx.stroke();
    ctx.fillStyle = color;
    for (const [a] of pairs) { const p = point(arr, a); ctx.fillRect(p[0] - 2, p[1] - 2, 4, 4); }
  };
  clearTimeout(state.fade);
  state.fade = setTimeout(clearOverlay, OVERLAY_FADE_MS);
  lines(parts.pose, BODY, "#4fc3f7");
  lines(parts.left_hand, HAND, "#ff7043");
  lines(parts.right_hand, HAND, "#66bb6a");
  $("hands-state").hidden = Boolean(parts.left_hand || parts.right_hand);
  state.drawn += 1;
  document.body.dataset.drawn = String(state.drawn);
}

// Points as 3 numbers each (x, y in [0, 1] of the frame, z), the server's 543-point layout.
function flat(landmarks, n) {
  if (!landmarks || landmarks.length < n) return null;
  const out = new Array(3 * n);
  for (let i = 0; i < n; i++) {
    const p = landmarks[i];
    out[3 * i] = +p.x.toFixed(5); out[3 * i + 1] = +p.y.toFixed(5); out[3 * i + 2] = +(p.z || 0).toFixed(5);
  }
  return out;
}

// -- predictions -------------------------------------------------------------------------
function bars(top) {
  return top.map((t) => {
    const li = document.createElement("li");
    li.style.setProperty("--p", `${(100 * t.probability).toFixed(1)}%`);
    const name = nameSpan(t.sign);
    const p = document.createElement("span");
    p.className = "p"; p.textContent = `${(100 * t.probability).toFixed(0)}%`;
    li.append(name, p);
    return li;
  });
}

// Why nothing is committed yet. Hold mode: the top sign must stay above the threshold for
// `hold` windows. Segment mode: the sign is read while the hands are up and decided when they
// go down (or the next sign begins); the bar shows how sure the reading is against the threshold.
function showHold(top, hold) {
  const live = state.health ? state.health.live : { mode: "hold", hold: 1 };
  if (hold) { // the server's own count: the page never disagrees with its commits
    $("hold").hidden = !hold.sign;
    $("hold-sign").textContent = hold.sign || "";
    $("hold-label").textContent = t(hold.repeat ? "already added:" : "holding");
    $("hold-progress").value = hold.repeat ? 0 : hold.held / hold.need;
    $("hold").title = hold.repeat ? "lower your hands or sign something else to add it again" : "";
    return;
  }
  const threshold = Number($("threshold").value);
  const best = top[0];
  if (live.mode === "segment") {
    $("hold").hidden = !best;
    $("hold-label").textContent = t("reading");
    $("hold-sign").textContent = best ? best.sign : "";
    $("hold-progress").value = best ? Math.min(1, best.probability / Math.max(threshold, 0.01)) : 0;
    return;
  }
  const need = live.hold;
  $("hold-label").textContent = t("holding");
  if (!best || best.probability < threshold) { state.hold = { sign: null, count: 0 }; }
  else if (best.sign === state.hold.sign) state.hold.count = Math.min(need, state.hold.count + 1);
  else state.hold = { sign: best.sign, count: 1 };
  $("hold").hidden = !state.hold.sign;
  $("hold-sign").textContent = state.hold.sign || "";
  $("hold-progress").value = state.hold.sign ? state.hold.count / need : 0;
}

// seconds -> m:ss.s, the time of a sign in the stream
function clock(seconds) {
  const m = Math.floor(seconds / 60);
  return `${m}:${(seconds - 60 * m).toFixed(1).padStart(4, "0")}`;
}

function renderSentence() {
  $("sentence").replaceChildren(...state.sentence.map((s, index) => {
    const span = document.createElement("button"); // a chip: tapped, it offers a correction
    span.type = "button";
    span.className = "word";
    span.title = t("correct this sign");
    span.addEventListener("click", () => correct(index));
    span.append(nameSpan(s.sign));
    if (s.start != null) {
      const time = document.createElement("time");
      time.textContent = clock(s.start);
      time.title = `${clock(s.start)}–${clock(s.end)}`;
      span.append(time);
    }
    return span;
  }));
  $("undo").disabled = $("clear").disabled = state.sentence.length === 0;
  document.querySelectorAll("[data-save]").forEach((b) => { b.disabled = state.sentence.length === 0; });
  document.body.dataset.commits = String(state.sentence.length);
  try { localStorage.setItem(SAVED, JSON.stringify(state.sentence)); } catch (e) { /* private mode: not kept */ }
}

// -- the sentence kept, corrected and saved ----------------------------------------------
const SAVED = "signpose:sentence"; // kept across reloads, on this device only

function restoreSentence() {
  try {
    const saved = JSON.parse(localStorage.getItem(SAVED) || "[]");
    if (Array.isArray(saved)) state.sentence = saved.filter((s) => s && typeof s.sign === "string");
  } catch (e) { state.sentence = []; }
  renderSentence();
}

// A committed sign replaced by the right one: its other top guesses first, then every sign.
function correct(index) {
  const item = state.sentence[index];
  if (!item) return;
  const names = [...new Set([...(item.guesses || []), ...state.vocabulary].filter((n) => n !== item.sign))];
  $("correct-sign").textContent = item.sign;
  $("correct-choice").replaceChildren(...names.map((n) => Object.assign(document.createElement("option"),
    { value: n, textContent: n })));
  const dialog = $("correct");
  dialog.onclose = () => {
    if (dialog.returnValue !== "ok" || !$("correct-choice").value) return;
    const was = item.sign;
    item.sign = $("correct-choice").value;
    item.corrected = was;
    renderSentence();
    announce(t("corrected: {was} to {sign}", { was, sign: item.sign }));
  };
  dialog.showModal();
  $("correct-choice").focus();
}

function vttTime(seconds) {
  const ms = Math.round(seconds * 1000), h = Math.floor(ms / 3600000), m = Math.floor(ms / 60000) % 60;
  const s = Math.floor(ms / 1000) % 60;
  return `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}.${String(ms % 1000).padStart(3, "0")}`;
}

function csvCell(text) { // quoted, and never a formula in a spreadsheet (as signpose's own CSVs)
  const value = /^[=+\-@\t\r']/.test(text) && !/^[-+]?\d+(\.\d+)?$/.test(text) ? `'${text}` : String(text);
  return `"${value.replace(/"/g, '""')}"`;
}

// The sentence as a file: plain text, CSV (start, end, sign) or WebVTT captions (Arabic with a
// right-to-left mark, as `signpose transcribe` writes them).
function sentenceFile(kind) {
  const items = state.sentence;
  if (kind === "txt") return items.map((s) => s.sign).join(" ") + "\n";
  if (kind === "csv") {
    return "start,end,sign\n" + items.map((s) => [s.start ?? "", s.end ?? "", csvCell(s.sign)].join(",")).join("\n") + "\n";
  }
  let t = 0;
  const cues = items.map((s, i) => {
    const start = s.start ?? t, end = s.end ?? start + 1;
    t = end;
    return `${i + 1}\n${vttTime(start)} --> ${vttTime(end)}\n${RTL.test(s.sign) ? "\u200f" : ""}${s.sign}\n`;
  });
  return "WEBVTT\n\n" + cues.join("\n");
}

function save(kind) {
  const types = { txt: "text/plain", csv: "text/csv", vtt: "text/vtt" };
  const blob = new Blob([sentenceFile(kind)], { type: `${types[kind]};charset=utf-8` });
  const link = Object.assign(document.createElement("a"), { href: URL.createObjectURL(blob), download: `sentence.${kind}` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

function speak(sign) {
  if (!$("speak").checked) return;
  const synth = window.speechSynthesis;
  if (!synth) { $("speak-note").textContent = t("this browser cannot speak"); return; }
  const lang = RTL.test(sign) ? "ar" : (document.documentElement.lang || "en");
  const voices = synth.getVoices();
  const voice = voices.find((v) => v.lang && v.lang.toLowerCase().startsWith(lang));
  // a lasting note beside the checkbox (status lines change with every message)
  $("speak-note").textContent = !voices.length ? t("this browser has no voices to speak with")
    : voice ? "" : t("this browser has no {lang} voice to speak with", { lang: lang === "ar" ? t("Arabic") : lang });
  const utterance = new SpeechSynthesisUtterance(sign);
  utterance.lang = lang;
  if (voice) utterance.voice = voice;
  synth.speak(utterance);
}

function commit(msg) {
  const sign = msg.sign;
  // the other signs the last reading ranked high: the first offered when correcting it
  const guesses = (state.lastTop || []).map((t) => t.sign).filter((n) => n !== sign);
  state.sentence.push({ sign, start: msg.start, end: msg.end, guesses });
  renderSentence();
  const li = document.createElement("li");
  const time = document.createElement("time");
  time.dir = "ltr"; // isolated: the list's right-to-left order never reorders a time's parts
  time.textContent = msg.start != null ? `${clock(msg.start)}–${clock(msg.end)}` : new Date().toLocaleTimeString();
  li.append(time, " ", nameSpan(sign));
  $("history").prepend(li);
  announce(t("recognised: {sign}", { sign }));
  speak(sign);
}

function onMessage(event) { handleMessage(JSON.parse(event.data)); }

function handleMessage(msg) {
  if (msg.type === "landmarks") { // frames mode: the server's MediaPipe found these
    state.inflight = Math.max(0, state.inflight - 1);
    drawParts(msg.parts);
    const video = $("video");
    if (state.rec && state.rec.phase === "take") recordFrame({ w: video.videoWidth, h: video.videoHeight, parts: msg.parts });
  }
  else if (msg.type === "prediction") {
    if (!state.running) return;
    $("topk").replaceChildren(...bars(msg.top));
    state.lastTop = msg.top;
    showHold(msg.top, msg.hold);
    if (!msg.hands) $("hands-state").hidden = false;
    state.predictions += 1;
    document.body.dataset.predictions = String(state.predictions);
  } else if (msg.type === "commit") commit(msg);
  else if (msg.type === "no_sign") {
    const best = msg.best ? t(" (closest: {sign}, {p}%)", { sign: msg.best.sign,
      p: (100 * msg.best.probability).toFixed(0) }) : "";
    announce(t("a sign at {time} was not recognised{best}", { time: clock(msg.start), best }));
    setStatus(t("not recognised at {time}{best}: below the threshold", { time: clock(msg.start), best }));
    $("hold").hidden = true;
    return;
  } else if (msg.type === "end") { $("hold").hidden = true; if (state.ending) state.ending(); return; }
  else if (msg.type === "error") { const text = t("server: {message}", { message: msg.message }); setStatus(text); announce(text); }
  if (msg.received !== undefined) {
    setCounts(t("{frames} frames tracked, {readings} readings, {dropped} frames dropped",
      { frames: msg.processed, readings: state.predictions, dropped: msg.dropped }));
  }
}

// -- the WebSocket, reconnected with backoff while the camera runs ------------------------
// Resolves once the socket is open (or has closed, and a retry is scheduled).
function connect() {
  if (state.mode === "landmarks" && state.deviceReady) { // no socket: this device decodes
    const { signs, spec } = state.deviceReady;
    state.local = new window.SignposeDevice.DeviceStream(signs, { ...spec,
      live: { ...spec.live, threshold: Number($("threshold").value) } }, DEVICE_FPS);
    setConnection("device");
    return Promise.resolve();
  }
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/ws/live?mode=${state.mode}${runQuery("&")}`);
  state.ws = ws;
  ws.onmessage = onMessage;
  let settle;
  const settled = new Promise((resolve) => { settle = resolve; });
  ws.addEventListener("open", settle);
  ws.addEventListener("close", settle);
  ws.onopen = () => {
    state.retry = 0; state.inflight = 0;
    setConnection("connected");
    ws.send(JSON.stringify({ type: "config", threshold: Number($("threshold").value) }));
  };
  ws.onclose = (event) => {
    if (state.ws !== ws) return; // replaced or stopped on purpose
    state.ws = null;
    clearOverlay(); // the last points are not the person any more
    if (!state.running) return;
    if (event.code === 1013) { // the server is full (frames mode): busy, not lost; wait longer
      const wait = Math.min(60000, 5000 * 2 ** state.retry++);
      setConnection("busy", t("server busy; retrying in {s} s", { s: Math.round(wait / 1000) }));
      if (state.retry === 1) {
        announce("the server is busy with other cameras; retrying, or recognise a video file meanwhile");
        setStatus("the server is busy with other cameras: retrying; a video file can be recognised meanwhile");
      }
      state.reconnect = setTimeout(() => { if (state.running) connect(); }, wait);
      return;
    }
    const wait = Math.min(8000, 500 * 2 ** state.retry++);
    setConnection("reconnecting", t("reconnecting in {s} s…", { s: (wait / 1000).toFixed(1) }));
    if (state.retry === 1) announce(t("lost the server; reconnecting"));
    state.reconnect = setTimeout(() => { if (state.running) connect(); }, wait);
  };
  return settled;
}

function send(data) {
  const ws = state.ws;
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(data);
}

// -- live --------------------------------------------------------------------------------
// The select is the one truth (a ?mode= in the address only sets it when the page opens).
function wantedMode() { return $("mode-select").value; }

function withTimeout(promise, ms) {
  return Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), ms))]);
}

// The WebGL renderer, when the browser names it: MediaPipe's models run on the GPU, and on a
// software renderer (no GPU) they run at a fraction of a frame a second and freeze the page.
function glRenderer() {
  try {
    const gl = document.createElement("canvas").getContext("webgl2");
    if (!gl) return null;
    const info = gl.getExtension("WEBGL_debug_renderer_info");
    return info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : "";
  } catch (e) { return null; }
}

async function chooseMode() {
  state.modeReason = ""; state.modeDetail = "";
  const wanted = wantedMode();
  const canLandmarks = state.health.modes.includes("landmarks") && typeof WebAssembly === "object";
  if (wanted === "frames" || !canLandmarks) return "frames";
  if (wanted === "auto") {
    const renderer = glRenderer();
    if (renderer === null || /swiftshader|llvmpipe|software/i.test(renderer)) {
      state.modeReason = t("no graphics acceleration here: the server does the tracking");
      state.modeDetail = renderer === null ? "no WebGL 2" : renderer;
      return "frames";
    }
  }
  try {
    await (wanted === "auto" ? withTimeout(loadHolistic(), AUTO_BUDGET_MS) : loadHolistic());
    return "landmarks";
  } catch (e) {
    if (wanted === "landmarks") throw e;
    state.modeReason = t("tracking did not start in this browser in time: the server does it");
    return "frames";
  }
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = src; s.onload = resolve; s.onerror = () => reject(new Error(`cannot load ${src}`));
    document.head.append(s);
  });
}

// -- classifying on this device -----------------------------------------------------------
// The run's model through ONNX Runtime Web, loaded once per run; rejected where it cannot run.
function loadDevice() {
  const key = state.run || "";
  if (!state.device[key]) {
    state.device[key] = (async () => {
      if (typeof WebAssembly !== "object") throw new Error("this browser has no WebAssembly");
      await loadScript("vendor/ort/ort.wasm.min.js");
      const spec = STATIC_SITE ? state.spec : await (await fetch(`api/device${runQuery()}`)).json();
      const model = STATIC_SITE ? "model.onnx" : `api/model.onnx${runQuery()}`;
      const threads = Number(new URLSearchParams(location.search).get("threads")) || 1; // where isolated
      const signs = await window.SignposeDevice.OnnxSigns.create(model, spec,
        new URL("vendor/ort/", location.href).href, threads);
      return { signs, spec };
    })();
    state.device[key].catch(() => { delete state.device[key]; }); // a later start tries again
  }
  return state.device[key];
}

function wantsDevice() { return STATIC_SITE || $("on-device").checked; }

// Events from this device's decoder are handled as the server's would be.
function deviceEvents(events) {
  for (const msg of events) handleMessage(msg);
  if (state.local) {
    setCounts(t("{frames} frames tracked, {readings} readings (on this device)",
      { frames: state.local.processed, readings: state.predictions }));
  }
}

let holisticLoading = null;
function loadHolistic() {
  if (!holisticLoading) {
    holisticLoading = (async () => {
      setStatus(t("loading MediaPipe Holistic in the browser…"));
      await loadScript("vendor/holistic/holistic.js");
      const holistic = new window.Holistic({ locateFile: (file) => `vendor/holistic/${file}` });
      const x = state.health.extraction;
      holistic.setOptions({
        modelComplexity: x.model_complexity, smoothLandmarks: true, refineFaceLandmarks: false,
        minDetectionConfidence: x.min_detection_confidence, minTrackingConfidence: x.min_tracking_confidence,
      });
      holistic.onResults(onResults);
      await holistic.initialize();
      state.holistic = holistic;
    })();
  }
  return holisticLoading;
}

function onResults(results) {
  if (!state.running) return;
  const parts = {
    pose: flat(results.poseLandmarks, PARTS.pose),
    face: flat(results.faceLandmarks, PARTS.face),
    left_hand: flat(results.leftHandLandmarks, PARTS.left_hand),
    right_hand: flat(results.rightHandLandmarks, PARTS.right_hand),
  };
  drawParts(parts);
  state.landmarkTimes.push(performance.now());
  const video = $("video");
  if (state.rec && state.rec.phase === "take") recordFrame({ w: video.videoWidth, h: video.videoHeight, parts });
  if (state.local) state.local.push(parts, video.videoWidth, video.videoHeight).then(deviceEvents);
  else send(JSON.stringify({ type: "landmarks", w: video.videoWidth, h: video.videoHeight, parts }));
}

async function landmarksLoop() {
  const video = $("video"), started = performance.now();
  state.landmarkTimes = [];
  while (state.running && state.mode === "landmarks") {
    if (video.readyState >= 2) {
      try { await state.holistic.send({ image: video }); } catch (e) { setStatus(`MediaPipe: ${e}`); }
    }
    // auto: measured on this device; too slow to follow a sign, the server takes over
    const elapsed = performance.now() - started;
    if (wantedMode() === "auto" && elapsed > AUTO_BUDGET_MS / 2) {
      const fps = state.landmarkTimes.length / (elapsed / 1000);
      if (fps < USABLE_FPS) {
        state.modeReason = t("this browser tracked {fps} frames a second, too slow: the server does it",
          { fps: fps.toFixed(1) });
        switchTo("frames");
        return;
      }
    }
    // a pause between frames, so that on a slow machine the page still paints and answers clicks
    await new Promise((r) => setTimeout(r, 40));
  }
}

function framesLoop() {
  // ~15 frames a second, downscaled here; at most two in flight, the server drops the rest
  const video = $("video"), canvas = document.createElement("canvas");
  clearInterval(state.timer);
  state.timer = setInterval(() => {
    const ws = state.ws;
    if (!state.running || video.readyState < 2 || state.inflight >= 2) return;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const scale = Math.min(1, 480 / video.videoWidth);
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    state.inflight += 1;
    canvas.toBlob((blob) => { if (blob && ws.readyState === WebSocket.OPEN) ws.send(blob); }, "image/jpeg", 0.8);
  }, 1000 / 15);
}

// Landmarks mode with the switch on: the model runs here, or the server classifies (said why).
async function prepareDevice() {
  state.deviceReady = null;
  if (state.mode !== "landmarks" || !wantsDevice()) return;
  try {
    setStatus(t("loading the model into this browser…"));
    state.deviceReady = await loadDevice();
    setStatus("");
  } catch (e) {
    if (STATIC_SITE) throw new Error(/missing|damaged|points and mask/.test(e.message)
      ? `${e.message}: export the site again with signpose export RUN --web DIR`
      : `the model cannot run in this browser (${e.message})`);
    state.modeReason = t("the model cannot run in this browser ({reason}): the server classifies", { reason: e.message });
  }
}

function showMode() {
  $("mode").textContent = (state.mode === "landmarks"
    ? t(state.deviceReady ? "landmarks, classified on this device (nothing leaves it)"
      : "landmarks (MediaPipe in this browser; the video stays here)")
    : t("frames (MediaPipe on the server)")) +
    (state.modeReason ? `: ${state.modeReason}` : ""); // why auto chose it stays, the counts change
  $("mode").title = state.modeDetail || "";
  $("mode-select").value = wantedMode(); // the select shows the mode asked for; the line, the one running
  document.body.dataset.mode = state.mode;
}

async function switchTo(mode) {
  state.mode = mode;
  if (state.local) deviceEvents(await state.local.finish());
  state.local = null;
  await prepareDevice();
  showMode();
  const old = state.ws;
  state.ws = null;
  if (old) old.close();
  connect().then(() => { if (state.running) (mode === "landmarks" ? landmarksLoop : framesLoop)(); });
}

function cameraHelp(error) {
  const denied = error && (error.name === "NotAllowedError" || error.name === "SecurityError");
  const text = denied
    ? t("The camera is blocked for this page. Allow it in the browser (the camera icon in the address bar, " +
      "or the site settings), then press Start camera again, or recognise a video file instead (highlighted).")
    : t("No camera could be opened ({reason}). Recognise a video file instead (highlighted).",
      { reason: error ? error.message : t("none found") });
  setStatus(text);
  $("placeholder").textContent = text; // where the person is looking
  $("placeholder").classList.add("error-note");
  announce(text);
  $("upload").classList.add("offered");
  $("file").focus();
}

async function start() {
  if (state.running || state.starting) return;
  state.starting = true;
  $("start").disabled = true;
  try {
    try {
      state.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    } catch (e) {
      cameraHelp(e);
      return;
    }
    const video = $("video");
    video.srcObject = state.stream;
    await video.play();
    $("placeholder").textContent = t($("placeholder").dataset.en); // a camera after all: the help is no longer true
    $("placeholder").classList.remove("error-note");
    $("upload").classList.remove("offered");
    $("placeholder").hidden = true;
    if (!state.health) await loadInfo();
    try { state.mode = await chooseMode(); } catch (e) { setStatus(`${e.message}`); stopCamera(); return; }
    await prepareDevice();
    showMode();
    state.running = true;
    $("stop").disabled = false;
    await connect(); // the first frames are not sent into a socket still connecting
    if (state.mode === "landmarks") landmarksLoop(); else framesLoop();
    $("stop").focus(); // the control that is now the one to use
  } catch (e) {
    setStatus(t("could not start: {reason}", { reason: e.message }));
    stopCamera();
  } finally {
    state.starting = false;
    $("start").disabled = state.running;
  }
}

function stopCamera() {
  state.running = false;
  clearInterval(state.timer);
  clearTimeout(state.reconnect);
  const ws = state.ws;
  state.ws = null;
  if (state.local) { // the sign still being signed is decided here too
    const local = state.local;
    state.local = null;
    local.finish().then((events) => { deviceEvents(events); $("hold").hidden = true; });
  }
  if (ws && ws.readyState === WebSocket.OPEN) {
    // the sign still being signed is decided (the server answers end) before the socket closes
    const close = () => { if (state.ending === close) state.ending = null; ws.close(); };
    state.ending = close;
    ws.send(JSON.stringify({ type: "end" }));
    setTimeout(close, 1500);
  } else if (ws) ws.close();
  if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
  state.stream = null; state.inflight = 0;
  $("video").srcObject = null;
  clearOverlay();
  $("topk").replaceChildren();
  $("hold").hidden = true;
  $("hands-state").hidden = true;
  $("placeholder").hidden = false;
  const hadFocus = document.activeElement === $("stop");
  $("start").disabled = false; $("stop").disabled = true;
  if (hadFocus || document.activeElement === document.body) $("start").focus();
  checkServer();
}

// The badge is true while the camera is off too: the server is asked every few seconds.
async function checkServer() {
  if (state.running || STATIC_SITE) return; // the live socket tells; a static site has no server
  try {
    const answer = await withTimeout(fetch("api/health", { cache: "no-store" }), 3000);
    if (!answer.ok) throw new Error(String(answer.status));
    if (!state.running) setConnection("connected");
  } catch (e) {
    if (!state.running) setConnection("offline", t("offline: the server does not answer"));
  }
}
setInterval(checkServer, HEALTH_EVERY_MS);

// A new mode chosen while the camera runs applies now.
async function modeChanged() {
  if (!state.running) return;
  try {
    state.modeReason = ""; state.modeDetail = "";
    const mode = await chooseMode();
    if (mode !== state.mode || wantedMode() !== "auto") switchTo(mode); else showMode();
  } catch (e) { setStatus(t("cannot switch: {reason}", { reason: e.message })); }
}

// -- recording one's own signs (serve --dataset) -------------------------------------------
// Takes of landmarks only (the video stays here), each sent when done and written by the
// server as one sample; the count per sign comes from the server, so a reload resumes it.
const TAKE_SECONDS = 2;
const COUNTDOWN_SECONDS = 3;
const takeFrames = () => Number(new URLSearchParams(location.search).get("take_frames")) ||
  Math.round(TAKE_SECONDS * DEVICE_FPS);
const recordStatus = (text) => { $("record-status").textContent = text; };
const takesOf = (signer, sign) => (state.takes || []).filter((k) => k.signer === signer && k.sign === sign).length;

async function loadTakes() {
  const answer = await fetch("api/record");
  if (!answer.ok) return;
  state.takes = (await answer.json()).takes;
  renderTakes();
}

function renderTakes() {
  $("record-takes-list").replaceChildren(...state.takes.map((take) => {
    const li = document.createElement("li");
    const play = Object.assign(document.createElement("button"), { type: "button", className: "link",
      textContent: t("replay") });
    play.addEventListener("click", () => replayTake(take.sample));
    const remove = Object.assign(document.createElement("button"), { type: "button", className: "link",
      textContent: t("delete") });
    remove.addEventListener("click", () => deleteTake(take.sample));
    li.append(nameSpan(take.sign), ` ${t("take {k}", { k: take.take })} (${take.signer}, ${take.frames} ${t("frames")})`,
      play, remove);
    li.dataset.sample = take.sample;
    return li;
  }));
  document.body.dataset.takes = String(state.takes.length);
}

function badName(name) { return !name || /[/\\]/.test(name) || name === "." || name === ".."; }

async function startRecording(event) {
  event.preventDefault();
  const signer = $("record-signer").value.trim();
  const signs = $("record-signs").value.split(",").map((s) => s.trim());
  const n = Number($("record-takes").value);
  if (badName(signer) || signs.some(badName)) {
    recordStatus(t("names may not be empty or hold / or \\; give the signs separated by commas"));
    return;
  }
  const queue = [];
  for (const sign of signs) for (let k = takesOf(signer, sign); k < n; k++) queue.push(sign);
  if (!queue.length) { recordStatus(t("every take is recorded already")); return; }
  if (!state.running) await start();
  if (!state.running) return; // start() said why (no camera)
  state.rec = { signer, n, queue, frames: [], phase: "countdown", started: 0 };
  $("record-stop").hidden = false;
  $("record-start").disabled = true;
  nextTake();
}

function nextTake() {
  const rec = state.rec;
  if (!rec) return;
  if (!rec.queue.length) { stopRecording(t("all takes recorded")); return; }
  const sign = rec.queue[0], k = takesOf(rec.signer, sign) + 1;
  rec.phase = "countdown"; rec.frames = [];
  let left = COUNTDOWN_SECONDS;
  const tick = () => {
    if (state.rec !== rec) return;
    if (left > 0) {
      $("record-counter").textContent = t("{sign}: take {k} of {n}, ready in {s}", { sign, k, n: rec.n, s: left });
      left -= 1;
      rec.timer = setTimeout(tick, 1000);
    } else {
      $("record-counter").textContent = t("{sign}: take {k} of {n}, sign now", { sign, k, n: rec.n });
      rec.phase = "take"; rec.started = performance.now();
    }
  };
  tick();
}

function recordFrame(frame) {
  const rec = state.rec;
  rec.frames.push(frame);
  if (rec.frames.length >= takeFrames()) sendTake(rec);
}

async function sendTake(rec) {
  rec.phase = "sending";
  const sign = rec.queue[0];
  const seconds = Math.max(1e-3, (performance.now() - rec.started) / 1000);
  const fps = Math.min(240, Math.max(1, rec.frames.length / seconds));
  const hands = rec.frames.filter((f) => f.parts.left_hand || f.parts.right_hand).length;
  if (!hands) { // shown before anything is kept, and taken again
    recordStatus(t("no hand was seen in this take of {sign}: taking it again", { sign }));
    nextTake();
    return;
  }
  let answer, body;
  try {
    answer = await fetch("api/record/takes", { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ signer: rec.signer, sign, fps, frames: rec.frames }) });
    body = await answer.json();
  } catch (e) { stopRecording(t("cannot reach the server; the takes so far are kept")); return; }
  if (state.rec !== rec) return;
  if (answer.status !== 201) { stopRecording(body.error); return; }
  state.takes.push(body);
  renderTakes();
  rec.queue.shift();
  recordStatus(t("kept: {sign}, take {k} ({frames} frames, hands in {hands})",
    { sign, k: body.take, frames: body.frames, hands }));
  announce(t("kept: {sign}, take {k}", { sign, k: body.take }));
  nextTake();
}

function stopRecording(text) {
  if (state.rec) clearTimeout(state.rec.timer);
  state.rec = null;
  $("record-counter").textContent = "";
  $("record-stop").hidden = true;
  $("record-start").disabled = false;
  if (text) { recordStatus(text); announce(text); }
}

async function deleteTake(sample) {
  const answer = await fetch(`api/record/takes?sample=${encodeURIComponent(sample)}`, { method: "DELETE" });
  if (!answer.ok) { recordStatus((await answer.json()).error); return; }
  state.takes = state.takes.filter((k) => k.sample !== sample);
  renderTakes();
  recordStatus(t("deleted: {sample}", { sample }));
}

// A take as a skeleton on the overlay, at its own rate.
async function replayTake(sample) {
  const take = await (await fetch(`api/record/frames?sample=${encodeURIComponent(sample)}`)).json();
  state.replaying = true;
  for (const parts of take.frames) {
    drawParts(parts);
    await new Promise((r) => setTimeout(r, 1000 / take.fps));
  }
  state.replaying = false;
  document.body.dataset.replayed = sample;
}

// -- training on the takes (one job at a time on the server) -------------------------------
const TRAIN_POLL_MS = 1500;

async function startTraining() {
  const answer = await fetch("api/train", { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ epochs: Number($("train-epochs").value) }) });
  const body = await answer.json();
  if (answer.status !== 202) { $("train-status").textContent = body.error; announce(body.error); return; }
  showTraining(body);
  pollTraining();
}

function showTraining(job) {
  const running = job.state === "running";
  $("train-start").disabled = running;
  $("train-cancel").hidden = !running;
  $("train-progress").hidden = !running;
  document.body.dataset.training = job.state;
  if (running) {
    $("train-progress").value = (job.epoch || 0) / (job.epochs || 1);
    const loss = job.train_loss != null ? `, ${t("loss")} ${job.train_loss.toFixed(3)}` : "";
    $("train-status").textContent = t("training {run}: epoch {e} of {n}{loss}; {split}",
      { run: job.run, e: job.epoch || 0, n: job.epochs, loss, split: job.split });
  } else if (job.state === "done") {
    $("train-status").textContent = t("trained: {run} recognises now ({split})", { run: job.run, split: job.split });
  } else if (job.state === "failed") {
    $("train-status").textContent = t("training failed: {message}", { message: job.message });
  } else if (job.state === "cancelled") {
    $("train-status").textContent = t("training cancelled; its run folder is kept and can be resumed");
  }
}

async function pollTraining() {
  const job = await (await fetch("api/train")).json();
  showTraining(job);
  if (job.state === "running") { setTimeout(pollTraining, TRAIN_POLL_MS); return; }
  if (job.state === "done") { // the new run recognises from now on
    state.run = job.run;
    state.health = null;
    await loadInfo();
    announce(t("trained: {run} recognises now ({split})", { run: job.run, split: job.split }));
    if (state.running) switchTo(state.mode);
  }
}

async function cancelTraining() {
  const answer = await fetch("api/train", { method: "DELETE" });
  showTraining(await answer.json());
}

// -- upload ------------------------------------------------------------------------------
function uploadError(text) {
  const p = document.createElement("p");
  p.className = "error"; p.setAttribute("role", "alert"); p.textContent = text;
  $("upload-result").replaceChildren(p);
}

async function upload(event) {
  event.preventDefault();
  const file = $("file").files[0];
  const out = $("upload-result"), video = $("annotated"), button = $("recognise");
  video.hidden = true; video.removeAttribute("src"); video.load(); // the previous clip's result goes
  if (!file) { uploadError(t("choose a video file first")); return; }
  out.replaceChildren(Object.assign(document.createElement("p"), { className: "note", textContent: t("recognising…") }));
  button.disabled = true;
  const body = new FormData();
  body.append("video", file);
  // No page time-out: the server works as long as the clip needs (it refuses what is over its
  // limits up front) and stops when the page leaves; Cancel stops it here.
  const controller = new AbortController();
  const cancel = $("cancel-upload"), started = performance.now();
  cancel.hidden = false;
  cancel.onclick = () => controller.abort();
  const ticker = setInterval(() => {
    out.firstChild.textContent = t("recognising… {s} s", { s: Math.round((performance.now() - started) / 1000) });
  }, 1000);
  let response, result;
  try {
    response = await fetch(`api/predict?annotate=1${runQuery("&")}`, { method: "POST", body, signal: controller.signal });
    result = await response.json();
  } catch (e) {
    uploadError(t(e.name === "AbortError" ? "cancelled" : "cannot reach the server; check that it is running and try again"));
    return;
  } finally {
    clearInterval(ticker);
    cancel.hidden = true;
    button.disabled = false;
  }
  if (!response.ok) {
    const said = result.error ? plain(result.error) : response.statusText;
    const text = response.status === 400 && /empty/.test(said) ? "this file is empty: choose a video" : said;
    uploadError(text); announce(text); $("upload-result").focus();
    return;
  }
  const list = document.createElement("ol");
  list.className = "bars"; list.id = "upload-top";
  list.append(...bars(result.top));
  const summary = document.createElement("p");
  summary.className = "note";
  summary.textContent = result.status === "ok"
    ? `${result.frames} frames, hands seen in ${(100 * result.hands_share).toFixed(0)}% of them, processed in ` +
      `${result.timing.total.toFixed(1)} s`
    : result.message;
  const signs = result.transcript ? result.transcript.signs : [];
  if (signs.length > 1) {
    // several signs one after another: the transcript first, the whole-clip reading below it
    const heading = Object.assign(document.createElement("p"), { className: "note",
      textContent: t("{n} signs, one after another:", { n: signs.length }) });
    const transcript = document.createElement("ol");
    transcript.id = "upload-transcript"; transcript.className = "transcript"; transcript.dir = state.rtl ? "rtl" : "ltr";
    transcript.append(...signs.map((s) => {
      const li = document.createElement("li");
      const time = Object.assign(document.createElement("time"), { dir: "ltr", textContent: `${clock(s.start)}–${clock(s.end)}` });
      li.append(nameSpan(s.sign), " ", time);
      return li;
    }));
    const add = Object.assign(document.createElement("button"), { type: "button", textContent: t("Add to the sentence") });
    add.addEventListener("click", () => {
      state.sentence.push(...signs.map((s) => ({ sign: s.sign, start: s.start, end: s.end })));
      renderSentence();
      announce(t("added {n} signs", { n: signs.length }));
    });
    out.replaceChildren(summary, heading, transcript, add, list);
    announce(t("the clip: {signs}", { signs: signs.map((s) => s.sign).join(", ") }));
  } else {
    out.replaceChildren(summary, list);
    announce(result.status === "ok" ? t("the clip: {signs}", { signs: result.top[0].sign }) : result.message);
  }
  if (result.annotated_url) { video.src = result.annotated_url; video.hidden = false; }
  $("upload-result").focus(); // the result is where the person looks next
}

// -- wiring ------------------------------------------------------------------------------
$("start").addEventListener("click", start);
$("stop").addEventListener("click", stopCamera);
$("threshold").addEventListener("input", () => {
  const value = Number($("threshold").value);
  $("threshold-value").textContent = value.toFixed(2);
  document.documentElement.style.setProperty("--t", `${(100 * value).toFixed(1)}%`);
  if (state.local) state.local.decoder.setThreshold(value);
  send(JSON.stringify({ type: "config", threshold: value }));
});
$("undo").addEventListener("click", () => {
  const last = state.sentence.pop();
  renderSentence();
  if (last) announce(t("removed: {sign}", { sign: last.sign }));
});
$("clear").addEventListener("click", () => { state.sentence = []; renderSentence(); });
$("upload-form").addEventListener("submit", upload);
$("record-form").addEventListener("submit", startRecording);
$("train-start").addEventListener("click", startTraining);
$("train-cancel").addEventListener("click", cancelTraining);
$("record-stop").addEventListener("click", () => stopRecording(t("stopped; the takes so far are kept")));
document.querySelectorAll("[data-save]").forEach((b) => b.addEventListener("click", () => save(b.dataset.save)));
$("mode-select").addEventListener("change", modeChanged);
$("on-device").addEventListener("change", () => { if (state.running) switchTo(state.mode); });
// Another model: its signs and accuracy shown, and a running camera reconnected to it.
$("run-select").addEventListener("change", async () => {
  state.run = $("run-select").value;
  await loadInfo();
  announce(t("model {run}: {line}", { run: state.run, line: $("model-line").textContent }));
  if (state.running) switchTo(state.mode);
});
// The language: the browser's unless chosen here (kept); the page's own text follows at once.
const i18n = window.SignposeI18n;
$("lang-select").value = i18n.choice();
i18n.setLanguage(i18n.choice());
$("lang-select").addEventListener("change", () => i18n.setLanguage($("lang-select").value));
i18n.onChange(() => {
  if (state.health) loadInfo().catch(() => {});
  if (state.mode) showMode();
  renderSentence();
});
const forced = new URLSearchParams(location.search).get("mode");
if (forced) $("mode-select").value = forced;
// For tests and extensions: feed the page a server message as if it came from the WebSocket.
window.signpose = { receive: (msg) => onMessage({ data: JSON.stringify(msg) }), state, loadDevice };
state.vocabulary = [];
if (STATIC_SITE) {
  // No server: no uploads, no frames mode; the site installs and works offline (sw.js).
  document.body.dataset.site = "static";
  $("upload").hidden = true;
  $("device-choice").hidden = true;
  $("mode-select").querySelector('option[value="frames"]').remove();
  $("api-link").hidden = true;
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("sw.js").catch((e) => setStatus(t("offline use is not available: {reason}", { reason: e.message })));
  }
}
restoreSentence();
loadInfoUntilReachable();
