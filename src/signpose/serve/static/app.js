// signpose web app: live recognition from the camera (landmarks or frames mode), clip
// upload, vocabulary. No build step and no CDN: everything comes from this server.
"use strict";

const $ = (id) => document.getElementById(id);
const PARTS = { pose: 33, face: 468, left_hand: 21, right_hand: 21 };
// Drawn connections: each hand's fingers and the upper body (MediaPipe's numbering).
const HAND = [[0, 1], [1, 2], [2, 3], [3, 4], [0, 5], [5, 6], [6, 7], [7, 8], [5, 9], [9, 10], [10, 11],
  [11, 12], [9, 13], [13, 14], [14, 15], [15, 16], [13, 17], [17, 18], [18, 19], [19, 20], [0, 17]];
const BODY = [[11, 12], [11, 13], [13, 15], [12, 14], [14, 16], [11, 23], [12, 24], [23, 24]];

const state = {
  health: null, mode: null, ws: null, stream: null, holistic: null, running: false,
  inflight: 0, drawn: 0, sentence: [], timer: null,
};
document.body.dataset.drawn = "0";
document.body.dataset.commits = "0";

function setStatus(text) { $("status").textContent = text; }

// -- model, accuracy, vocabulary ----------------------------------------------------------
async function loadInfo() {
  const health = await (await fetch("/api/health")).json();
  state.health = health;
  $("model-line").textContent =
    `run ${health.run}: ${health.model} on ${health.features}, ${health.classes} signs (${health.backend})`;
  const acc = health.accuracy;
  $("accuracy").textContent = acc && acc.accuracy != null
    ? `Measured on ${acc.signer ? "signer " + acc.signer : "test samples"}, never seen in training: ` +
      `${(100 * acc.accuracy).toFixed(1)}% of ${acc.samples} samples (95% interval ` +
      `${(100 * acc.accuracy_ci95[0]).toFixed(0)}–${(100 * acc.accuracy_ci95[1]).toFixed(0)}%). ` +
      "Expect less on people and cameras unlike the training data."
    : "This run has no measured accuracy on an unseen signer.";
  $("threshold").value = health.live.threshold;
  $("threshold-value").textContent = Number(health.live.threshold).toFixed(2);
  const signs = await (await fetch("/api/signs")).json();
  $("vocab-count").textContent = signs.length;
  $("vocab").replaceChildren(...signs.map((s) => {
    const li = document.createElement("li");
    li.dir = "auto";
    li.textContent = s.sign;
    li.title = `id ${s.sign_id}`;
    return li;
  }));
}

// -- drawing -----------------------------------------------------------------------------
function drawParts(parts) {
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
  lines(parts.pose, BODY, "#4fc3f7");
  lines(parts.left_hand, HAND, "#ff7043");
  lines(parts.right_hand, HAND, "#66bb6a");
  const hands = Boolean(parts.left_hand || parts.right_hand);
  $("hands-state").hidden = hands;
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
function showTop(top) {
  $("topk").replaceChildren(...top.map((t) => {
    const li = document.createElement("li");
    li.style.setProperty("--p", `${(100 * t.probability).toFixed(1)}%`);
    const name = document.createElement("span");
    name.dir = "auto"; name.textContent = t.sign;
    const p = document.createElement("span");
    p.className = "p"; p.textContent = `${(100 * t.probability).toFixed(0)}%`;
    li.append(name, p);
    return li;
  }));
}

function renderSentence() {
  $("sentence").replaceChildren(...state.sentence.map((s) => {
    const span = document.createElement("span");
    span.dir = "auto"; span.textContent = s;
    return span;
  }));
  document.body.dataset.commits = String(state.sentence.length);
}

function onMessage(event) {
  const msg = JSON.parse(event.data);
  if (msg.type === "landmarks") { state.inflight = Math.max(0, state.inflight - 1); drawParts(msg.parts); }
  else if (msg.type === "prediction") {
    showTop(msg.top);
    if (!msg.hands) $("hands-state").hidden = false;
  } else if (msg.type === "commit") { state.sentence.push(msg.sign); renderSentence(); }
  else if (msg.type === "error") setStatus(`server: ${msg.message}`);
  if (msg.received !== undefined) {
    setStatus(`${msg.processed} frames classified, ${msg.dropped} dropped`);
  }
}

// -- live --------------------------------------------------------------------------------
async function chooseMode() {
  const wanted = new URLSearchParams(location.search).get("mode") || $("mode-select").value;
  const canLandmarks = state.health.modes.includes("landmarks") && typeof WebAssembly === "object";
  if (wanted === "frames" || !canLandmarks) return "frames";
  try {
    await loadHolistic();
    return "landmarks";
  } catch (e) {
    if (wanted === "landmarks") throw e;
    console.warn("MediaPipe could not start in this browser; frames mode", e);
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

async function loadHolistic() {
  if (state.holistic) return;
  setStatus("loading MediaPipe Holistic in the browser…");
  await loadScript("/vendor/holistic/holistic.js");
  const holistic = new window.Holistic({ locateFile: (file) => `/vendor/holistic/${file}` });
  const x = state.health.extraction;
  holistic.setOptions({
    modelComplexity: x.model_complexity, smoothLandmarks: true, refineFaceLandmarks: false,
    minDetectionConfidence: x.min_detection_confidence, minTrackingConfidence: x.min_tracking_confidence,
  });
  holistic.onResults(onResults);
  await holistic.initialize();
  state.holistic = holistic;
}

function onResults(results) {
  const parts = {
    pose: flat(results.poseLandmarks, PARTS.pose),
    face: flat(results.faceLandmarks, PARTS.face),
    left_hand: flat(results.leftHandLandmarks, PARTS.left_hand),
    right_hand: flat(results.rightHandLandmarks, PARTS.right_hand),
  };
  drawParts(parts);
  const video = $("video");
  if (state.ws && state.ws.readyState === WebSocket.OPEN) {
    state.ws.send(JSON.stringify({ type: "landmarks", w: video.videoWidth, h: video.videoHeight, parts }));
  }
}

async function landmarksLoop() {
  const video = $("video");
  while (state.running) {
    if (video.readyState >= 2) {
      try { await state.holistic.send({ image: video }); } catch (e) { setStatus(`MediaPipe: ${e}`); }
    }
    // a pause between frames, so that on a slow machine the page still paints and answers clicks
    await new Promise((r) => setTimeout(r, 40));
  }
}

function framesLoop() {
  // ~15 frames a second, downscaled here; at most two in flight, the server drops the rest
  const video = $("video"), canvas = document.createElement("canvas");
  state.timer = setInterval(() => {
    if (!state.running || video.readyState < 2 || state.inflight >= 2) return;
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return;
    const scale = Math.min(1, 480 / video.videoWidth);
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    state.inflight += 1;
    canvas.toBlob((blob) => { if (blob && state.ws.readyState === WebSocket.OPEN) state.ws.send(blob); },
      "image/jpeg", 0.8);
  }, 1000 / 15);
}

async function start() {
  $("start").disabled = true;
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (e) {
    setStatus(`no camera: ${e.message}`);
    $("start").disabled = false;
    return;
  }
  const video = $("video");
  video.srcObject = state.stream;
  await video.play();
  try { state.mode = await chooseMode(); } catch (e) { setStatus(`${e.message}`); stop(); return; }
  $("mode").textContent = state.mode === "landmarks"
    ? "landmarks (MediaPipe in this browser; the video stays here)" : "frames (MediaPipe on the server)";
  document.body.dataset.mode = state.mode;
  const proto = location.protocol === "https:" ? "wss" : "ws";
  state.ws = new WebSocket(`${proto}://${location.host}/ws/live?mode=${state.mode}`);
  state.ws.onmessage = onMessage;
  state.ws.onclose = () => { if (state.running) setStatus("disconnected from the server"); };
  await new Promise((resolve) => { state.ws.onopen = resolve; });
  state.ws.send(JSON.stringify({ type: "config", threshold: Number($("threshold").value) }));
  state.running = true;
  $("stop").disabled = false;
  if (state.mode === "landmarks") landmarksLoop(); else framesLoop();
}

function stop() {
  state.running = false;
  clearInterval(state.timer);
  if (state.ws) state.ws.close();
  if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
  state.ws = null; state.stream = null; state.inflight = 0;
  $("start").disabled = false; $("stop").disabled = true;
}

// -- upload ------------------------------------------------------------------------------
async function upload(event) {
  event.preventDefault();
  const file = $("file").files[0];
  const out = $("upload-result");
  if (!file) { out.textContent = "choose a video file first"; return; }
  out.textContent = "recognising…";
  const body = new FormData();
  body.append("video", file);
  const response = await fetch("/api/predict?annotate=1", { method: "POST", body });
  const result = await response.json();
  if (!response.ok) {
    out.innerHTML = "";
    const p = document.createElement("p");
    p.className = "error"; p.textContent = result.error || response.statusText;
    out.append(p);
    return;
  }
  const list = document.createElement("ol");
  list.className = "bars";
  list.id = "upload-top";
  for (const t of result.top) {
    const li = document.createElement("li");
    li.style.setProperty("--p", `${(100 * t.probability).toFixed(1)}%`);
    const name = document.createElement("span"); name.dir = "auto"; name.textContent = t.sign;
    const p = document.createElement("span"); p.className = "p"; p.textContent = `${(100 * t.probability).toFixed(0)}%`;
    li.append(name, p); list.append(li);
  }
  const summary = document.createElement("p");
  summary.className = "note";
  summary.textContent = result.status === "ok"
    ? `${result.frames} frames, hands in ${(100 * result.hands_share).toFixed(0)}%, ${result.timing.total.toFixed(2)} s`
    : result.message;
  out.replaceChildren(summary, list);
  if (result.annotated_url) {
    const video = $("annotated");
    video.src = result.annotated_url; video.hidden = false;
  }
}

// -- wiring ------------------------------------------------------------------------------
$("start").addEventListener("click", start);
$("stop").addEventListener("click", stop);
$("threshold").addEventListener("input", () => {
  const value = Number($("threshold").value);
  $("threshold-value").textContent = value.toFixed(2);
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify({ type: "config", threshold: value }));
});
$("undo").addEventListener("click", () => { state.sentence.pop(); renderSentence(); });
$("clear").addEventListener("click", () => { state.sentence = []; renderSentence(); });
$("upload-form").addEventListener("submit", upload);
const forced = new URLSearchParams(location.search).get("mode");
if (forced) $("mode-select").value = forced;
loadInfo().catch((e) => setStatus(`cannot reach the server: ${e}`));
