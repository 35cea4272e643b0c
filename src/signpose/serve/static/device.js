// signpose on the signer's own device: the stream decoder and the first feature stage in
// JavaScript, the classifier through ONNX Runtime Web. Ports of recognise/decoder.py
// (StreamDecoder, Committer, signing_frames) and model/features.py (sequence_points: gaps
// filled, body frame, dominant hand, resampled to T); the exported graph does the rest.
// tests/test_web_export.py holds them to the Python on the same recorded streams.
// No build step: one script that defines `SignposeDevice`.
"use strict";

(function (global) {
  const N = 543;

  // -- a window of frames ----------------------------------------------------------------
  // A frame: xyz (Float32Array 543 x 3, pixels) and present (Uint8Array 543), as the
  // server's landmarks_to_arrays makes them from the page's message.
  function frameFromParts(parts, w, h, layout) {
    const xyz = new Float32Array(N * 3), present = new Uint8Array(N);
    for (const [name, start, size] of layout.parts) {
      const values = parts[name];
      if (!values) continue;
      for (let i = 0; i < size; i++) {
        const g = start + i;
        xyz[3 * g] = Math.fround(values[3 * i] * w);
        xyz[3 * g + 1] = Math.fround(values[3 * i + 1] * h);
        xyz[3 * g + 2] = values[3 * i + 2];
        present[g] = 1;
      }
    }
    return { xyz, present };
  }

  function handsSeen(frames, layout) {
    for (const f of frames) {
      for (const [start, size] of layout.hands) {
        for (let g = start; g < start + size; g++) if (f.present[g]) return true;
      }
    }
    return false;
  }

  // -- stage 1: a window -> points (T, P, 2) and mask (T, P) ------------------------------
  function interpolateGaps(frames, maxGap) {
    const t = frames.length;
    const xyz = frames.map((f) => Float32Array.from(f.xyz));
    const present = frames.map((f) => Uint8Array.from(f.present));
    if (maxGap <= 0 || t < 3) return { xyz, present };
    for (let g = 0; g < N; g++) {
      let prev = -1;
      for (let k = 0; k < t; k++) {
        if (frames[k].present[g]) {
          const gap = k - prev - 1;
          if (prev >= 0 && gap > 0 && gap <= maxGap) {
            for (let m = prev + 1; m < k; m++) {
              const w = (m - prev) / (k - prev);
              for (let c = 0; c < 3; c++) {
                const a = frames[prev].xyz[3 * g + c], b = frames[k].xyz[3 * g + c];
                xyz[m][3 * g + c] = Math.fround(a * (1 - w) + b * w);
              }
              present[m][g] = 1;
            }
          }
          prev = k;
        }
      }
    }
    return { xyz, present };
  }

  function median(values) {
    const s = Float64Array.from(values).sort();
    const n = s.length, mid = n >> 1;
    return n % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  }

  function bodyFrame(xyz, present, layout) {
    const [ls, rs] = layout.shoulders;
    const cx = [], cy = [], widths = [];
    for (let k = 0; k < xyz.length; k++) {
      if (!(present[k][ls] && present[k][rs])) continue;
      const lx = xyz[k][3 * ls], ly = xyz[k][3 * ls + 1], rx = xyz[k][3 * rs], ry = xyz[k][3 * rs + 1];
      cx.push(Math.fround((lx + rx) / 2)); cy.push(Math.fround((ly + ry) / 2));
      widths.push(Math.hypot(lx - rx, ly - ry));
    }
    let origin = [0, 0], scale = 1;
    if (widths.length) {
      origin = [median(cx), median(cy)];
      scale = median(widths);
    } else {
      const xs = [], ys = [];
      for (let k = 0; k < xyz.length; k++) {
        for (let g = 0; g < N; g++) if (present[k][g]) { xs.push(xyz[k][3 * g]); ys.push(xyz[k][3 * g + 1]); }
      }
      if (xs.length) {
        const mean = (a) => a.reduce((s, v) => s + v, 0) / a.length;
        const std = (a, m) => Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / a.length);
        const mx = mean(xs), my = mean(ys);
        origin = [mx, my];
        scale = 2 * Math.max(std(xs, mx), std(ys, my));
      }
    }
    if (!Number.isFinite(scale) || scale < 1e-6) scale = 1;
    return { origin: origin.map(Math.fround), scale };
  }

  function leftHandLeads(xy, present, layout) {
    const use = layout.hands.map(([wrist]) => {
      let seen = 0, path = 0;
      for (let k = 0; k < xy.length; k++) {
        if (!present[k][wrist]) continue;
        seen += 1;
        if (k > 0 && present[k - 1][wrist]) {
          path += Math.hypot(xy[k][2 * wrist] - xy[k - 1][2 * wrist], xy[k][2 * wrist + 1] - xy[k - 1][2 * wrist + 1]);
        }
      }
      return [seen, path];
    });
    return use[0][0] > use[1][0] || (use[0][0] === use[1][0] && use[0][1] > use[1][1]);
  }

  function timePositions(frames, target, sampling) {
    const pos = new Float64Array(target);
    if (sampling === "resample") {
      if (frames > 1) {
        const step = (frames - 1) / (target - 1); // numpy's linspace: i * step, the last exact
        for (let i = 0; i < target; i++) pos[i] = i * step;
        pos[target - 1] = frames - 1;
      }
    } else {
      for (let i = 0; i < target; i++) pos[i] = Math.min(i, frames - 1);
    }
    return pos;
  }

  // The run's `FeaturePipeline.points` for one window: {points: Float32Array, mask: Uint8Array}.
  function sequencePoints(frames, width, height, spec) {
    const cfg = spec.features, layout = spec.layout;
    const filled = interpolateGaps(frames, cfg.interpolate_gap);
    let { xyz, present } = filled;
    const t0 = frames.length;
    let xy = [];
    if (cfg.normalise === "body") {
      const { origin, scale } = bodyFrame(xyz, present, layout);
      xy = xyz.map((f) => {
        const out = new Float32Array(2 * N);
        for (let g = 0; g < N; g++) {
          out[2 * g] = (f[3 * g] - origin[0]) / scale;
          out[2 * g + 1] = (f[3 * g + 1] - origin[1]) / scale;
        }
        return out;
      });
    } else {
      xy = xyz.map((f) => {
        const out = new Float32Array(2 * N);
        for (let g = 0; g < N; g++) { out[2 * g] = f[3 * g] / (width || 1); out[2 * g + 1] = f[3 * g + 1] / (height || 1); }
        return out;
      });
    }
    if (cfg.dominant_hand !== "as-recorded" && leftHandLeads(xy, present, layout)) {
      const centre = cfg.normalise === "body" ? 0 : 1;
      const perm = layout.mirror;
      xy = xy.map((f) => {
        const out = new Float32Array(2 * N);
        for (let g = 0; g < N; g++) { out[2 * g] = -f[2 * perm[g]] + centre; out[2 * g + 1] = f[2 * perm[g] + 1]; }
        return out;
      });
      present = present.map((p) => Uint8Array.from(perm, (src) => p[src]));
    }
    const idx = spec.points, T = cfg.frames, P = idx.length;
    const pos = timePositions(t0, T, cfg.sampling);
    const points = new Float32Array(T * P * 2), mask = new Uint8Array(T * P);
    for (let i = 0; i < T; i++) {
      const lo = Math.floor(pos[i]), hi = Math.min(lo + 1, t0 - 1), w = pos[i] - lo, exact = pos[i] === lo;
      for (let j = 0; j < P; j++) {
        const g = idx[j];
        const m = exact ? present[lo][g] : present[lo][g] && present[hi][g];
        if (!m) continue;
        mask[i * P + j] = 1;
        for (let c = 0; c < 2; c++) points[(i * P + j) * 2 + c] = xy[lo][2 * g + c] * (1 - w) + xy[hi][2 * g + c] * w;
      }
    }
    return { points, mask };
  }

  // -- the classifier: ONNX Runtime Web on this device --------------------------------------
  class OnnxSigns {
    // The graph fetched and opened here, so a missing or damaged file says so in words.
    static async create(modelUrl, spec, wasmBase, threads = 1) {
      const ort = global.ort;
      if (!ort) throw new Error("ONNX Runtime Web did not load");
      // more than one thread needs a cross-origin-isolated page (SharedArrayBuffer)
      ort.env.wasm.numThreads = global.crossOriginIsolated ? threads : 1;
      ort.env.wasm.wasmPaths = wasmBase;
      let response;
      try { response = await fetch(modelUrl); } catch (e) { throw new Error(`the model could not be fetched (${e.message})`); }
      if (!response.ok) throw new Error(`the model is missing (${modelUrl}: HTTP ${response.status})`);
      const bytes = new Uint8Array(await response.arrayBuffer());
      let session;
      try {
        session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
      } catch (e) {
        throw new Error(`the model is damaged (${modelUrl}: ${String(e.message || e).split("\n")[0].slice(0, 120)})`);
      }
      if (!session.inputNames.includes("points") || !session.inputNames.includes("mask")) {
        throw new Error(`the model does not take points and mask (${modelUrl}); export the run again`);
      }
      return new OnnxSigns(ort, session, spec);
    }

    constructor(ort, session, spec) { this.ort = ort; this.session = session; this.spec = spec; }

    get threads() { return this.ort.env.wasm.numThreads; }

    // points/mask of stage 1 -> probabilities over the classes (a softmax of the logits).
    async probabilities(points, mask) {
      const T = this.spec.features.frames, P = this.spec.points.length;
      const out = await this.session.run({
        points: new this.ort.Tensor("float32", points, [1, T, P, 2]),
        mask: new this.ort.Tensor("bool", mask, [1, T, P]),
      });
      const logits = out.logits.data;
      let max = -Infinity;
      for (const v of logits) max = Math.max(max, v);
      const e = Array.from(logits, (v) => Math.exp(v - max));
      const sum = e.reduce((s, v) => s + v, 0);
      return e.map((v) => v / sum);
    }

    // The decoder's classifier: a window -> probabilities, or null without hands.
    async classify(frames, width, height) {
      if (!handsSeen(frames, this.spec.layout)) return null;
      const { points, mask } = sequencePoints(frames, width, height, this.spec);
      return this.probabilities(points, mask);
    }
  }

  // -- the stream decoder (recognise/decoder.py) --------------------------------------------
  // Python's round: halves to the even neighbour (0.15 s at 30 fps is 4 frames, not 5).
  function roundHalfEven(x) {
    const r = Math.round(x);
    return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  }

  function framesOf(seconds, fps) { return Math.max(1, roundHalfEven(seconds * fps)); }

  function signingFrame(f, restLine, layout, arms = false) {
    const [ls, rs] = layout.shoulders;
    const shoulders = f.present[ls] && f.present[rs];
    const lx = f.xyz[3 * ls], ly = f.xyz[3 * ls + 1], rx = f.xyz[3 * rs], ry = f.xyz[3 * rs + 1];
    const line = (ly + ry) / 2 + restLine * Math.hypot(lx - rx, ly - ry);
    if (arms) return shoulders && layout.wrists.some((w) => f.present[w] && f.xyz[3 * w + 1] <= line);
    for (const [start, size] of layout.hands) {
      let seen = false, y = 0;
      for (let g = start; g < start + size; g++) { seen = seen || !!f.present[g]; y += f.xyz[3 * g + 1]; }
      if (seen && (!shoulders || y / size <= line)) return true;
    }
    return false;
  }

  function argmax(p) { let best = 0; for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i; return best; }

  function commitEvent(signId, sign, p, frame, start, end, fps) {
    return {
      type: "commit", time: frame / fps, frame, sign_id: signId, sign, probability: p,
      start: start / fps, end: (end + 1) / fps, start_frame: start, end_frame: end,
    };
  }

  class Committer {
    constructor(config) {
      this.config = config; this.windows = 0; this.best = null; this.streak = []; this.sign = null;
      this.name = ""; this.last = null; this.released = true; this.quietUntil = -1;
    }

    update(frame, fps, top) {
      this.windows += 1;
      if (top && (!this.best || top[2] > this.best[2])) this.best = top;
      if (!top || top[0] !== this.sign) {
        this.sign = top ? top[0] : null; this.name = top ? top[1] : ""; this.streak = [];
        this.released = this.released || !top || top[0] !== this.last;
      }
      if (!top) return null;
      this.streak.push(top[2]);
      const held = this.streak.slice(-this.config.hold);
      const mean = held.reduce((s, v) => s + v, 0) / held.length;
      if (held.length < this.config.hold || mean < this.config.threshold || frame < this.quietUntil) return null;
      if (top[0] === this.last && !this.released) return null;
      const start = Math.max(0, frame - this.config.window + 1);
      const event = commitEvent(top[0], top[1], mean, frame, start, frame, fps);
      this.last = top[0]; this.released = false; this.quietUntil = frame + this.config.cooldown;
      return event;
    }

    progress() {
      const above = this.streak.slice(-this.config.hold).filter((p) => p >= this.config.threshold);
      return {
        sign: this.sign ? this.name : null, held: above.length, need: this.config.hold,
        repeat: this.sign !== null && this.sign === this.last && !this.released,
      };
    }
  }

  class StreamDecoder {
    // classify(frames, width, height) -> Promise of probabilities or null.
    constructor(config, fps, classify, classes, names, layout, topK = 5) {
      this.config = { ...config }; this.fps = fps; this.classify = classify;
      this.classes = classes; this.names = names; this.layout = layout; this.topK = topK;
      this.frames = 0; this.size = [1, 1];
      this.reset();
    }

    get frame() { return this.frames - 1; }
    get commits() { return this.commitsSoFar; }

    reset() {
      const c = this.config;
      this.keep = Math.max(c.window, framesOf(c.max_sign, this.fps) + framesOf(c.gap, this.fps) + 1);
      this.buffer = []; this.commitsSoFar = []; this.windows = 0; this.best = null;
      this.committer = new Committer(c);
      this.active = false; this.start = 0; this.lastUp = 0; this.lastArm = 0; this.peak = null; this.lastSign = null;
      this.classifiedTo = -1;
    }

    setThreshold(value) { this.config.threshold = Number(value); this.committer.config = this.config; }
    framesOf(seconds) { return framesOf(seconds, this.fps); }

    async push(frame, width, height) {
      this.buffer.push(frame);
      if (this.buffer.length > this.keep) this.buffer.shift();
      this.size = [width, height];
      this.frames += 1;
      if (this.config.mode === "hold") return this.pushHold();
      const up = signingFrame(frame, this.config.rest_line, this.layout);
      // the arms only matter while no hand is up (a hand up keeps the sign going anyway)
      const arm = !up && !!this.config.arms && signingFrame(frame, this.config.rest_line, this.layout, true);
      return this.pushSegment(up, arm);
    }

    async finish() {
      if (this.config.mode === "segment" && this.active) return this.endSegment();
      return [];
    }

    window(first, last) {
      const offset = this.frames - this.buffer.length;
      return this.buffer.slice(first - offset, last - offset + 1);
    }

    async classifyWindow(first, last) {
      const frames = this.window(first, last);
      const probs = await this.classify(frames, this.size[0], this.size[1]);
      this.windows += 1;
      this.classifiedTo = last;
      let top = [];
      if (probs) {
        const order = probs.map((p, i) => i).sort((a, b) => probs[b] - probs[a]).slice(0, Math.max(1, this.topK));
        top = order.map((i) => [this.classes[i], this.names[i], probs[i]]);
        if (!this.best || top[0][2] > this.best[2]) this.best = top[0];
      }
      const event = {
        type: "prediction", frame: last, start_frame: first, hands: handsSeen(frames, this.layout),
        top: top.map(([id, n, p]) => ({ sign_id: id, sign: n, probability: p })), status: top.length ? "ok" : "no_sign",
      };
      return [[event], probs];
    }

    async pushHold() {
      const window = this.config.window;
      if (this.buffer.length < window || (this.frames - window) % this.config.stride) return [];
      const [events, probs] = await this.classifyWindow(this.frame - window + 1, this.frame);
      let top = null;
      if (probs) { const i = argmax(probs); top = [this.classes[i], this.names[i], probs[i]]; }
      const event = this.committer.update(this.frame, this.fps, top);
      events[0].hold = this.committer.progress();
      if (event) { this.commitsSoFar.push(event); events.push(event); }
      return events;
    }

    async pushSegment(up, arm = false) {
      const t = this.frame;
      if (up) {
        this.lastUp = this.lastArm = t;
        if (!this.active) { this.active = true; this.start = t; this.peak = null; this.lastSign = null; }
      }
      if (!this.active) return [];
      if (arm) this.lastArm = t;  // the hand model lost the hand, the arm is still up: the sign goes on
      if (t - this.lastArm >= this.framesOf(this.config.gap)) return this.endSegment();
      const shortest = this.framesOf(this.config.min_sign);
      if (this.lastUp - this.start + 1 < shortest || this.lastUp <= this.classifiedTo) return [];
      if ((t - this.start + 1 - shortest) % this.config.stride) return [];
      const last = this.lastUp;
      const first = Math.max(this.start, last - this.framesOf(this.config.max_sign) + 1);
      const [events, probs] = await this.classifyWindow(first, last);
      if (probs) events.push(...(await this.updatePeak(probs, first, last)));
      return events;
    }

    async updatePeak(probs, first, last) {
      const i = argmax(probs), p = probs[i], peak = this.peak, threshold = this.config.threshold;
      if (!peak || (i === peak.index && p >= peak.p) || (peak.p < threshold && p > peak.p)) {
        this.peak = { index: i, p, start: first, end: last };
        return [];
      }
      if (peak.p < threshold) return [];
      if (first > peak.end) return this.split({ index: i, p, start: first, end: last });
      const rest = peak.end + 1;
      if (last - rest + 1 >= this.framesOf(this.config.min_sign)) {
        const restProbs = await this.classify(this.window(rest, last), this.size[0], this.size[1]);
        if (restProbs) {
          const j = argmax(restProbs);
          if (peak.p * restProbs[j] >= p) return this.split({ index: j, p: restProbs[j], start: rest, end: last });
        }
      }
      if (i !== peak.index && p > peak.p) this.peak = { index: i, p, start: first, end: last };
      return [];
    }

    split(following) {
      const events = this.commitPeak();
      this.start = this.peak.end + 1;
      this.peak = following;
      return events;
    }

    commitPeak(end) {
      const peak = this.peak;
      if (!peak || peak.p < this.config.threshold || peak.index === this.lastSign) return [];
      this.lastSign = peak.index;
      const event = commitEvent(this.classes[peak.index], this.names[peak.index], peak.p, this.frame, this.start,
        Math.max(peak.end, end !== undefined ? end : peak.end), this.fps);
      this.commitsSoFar.push(event);
      return [event];
    }

    async endSegment() {
      const events = [];
      const end = this.lastUp, shortest = this.framesOf(this.config.min_sign);
      if (end > this.classifiedTo && end - this.start + 1 >= shortest) {
        const first = Math.max(this.start, end - this.framesOf(this.config.max_sign) + 1);
        const [more, probs] = await this.classifyWindow(first, end);
        events.push(...more);
        if (probs) events.push(...(await this.updatePeak(probs, first, end)));
      }
      const committed = this.commitPeak(end);
      if (committed.length) events.push(...committed);
      else if (this.lastSign === null && end - this.start + 1 >= shortest) {
        const best = this.peak ? { sign: this.names[this.peak.index], probability: this.peak.p } : null;
        events.push({ type: "no_sign", frame: this.frame, start: this.start / this.fps, end: (end + 1) / this.fps, best });
      }
      this.active = false; this.peak = null; this.lastSign = null;
      return events;
    }
  }

  // -- one live stream on this device: frames in, the server's event shapes out -------------
  // Pushes are chained, so frames are decoded in order however long a reading takes.
  class DeviceStream {
    constructor(signs, spec, fps) {
      this.spec = spec;
      this.decoder = new StreamDecoder(spec.live, fps, (f, w, h) => signs.classify(f, w, h), spec.classes,
        spec.names, spec.layout);
      this.queue = Promise.resolve();
      this.processed = 0;
    }

    push(parts, w, h) {
      const frame = frameFromParts(parts, w, h, this.spec.layout);
      this.queue = this.queue.then(async () => {
        const events = await this.decoder.push(frame, w, h);
        this.processed += 1;
        return events;
      });
      return this.queue;
    }

    finish() { this.queue = this.queue.then(() => this.decoder.finish()); return this.queue; }
  }

  global.SignposeDevice = {
    OnnxSigns, StreamDecoder, DeviceStream, Committer, frameFromParts, sequencePoints, signingFrame, handsSeen,
  };
})(typeof window !== "undefined" ? window : globalThis);
