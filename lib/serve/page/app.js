// SPDX-License-Identifier: MIT
// The drawing page of `blasnet serve`: a digit drawn on the canvas is turned into a 28x28
// input the way MNIST's digits were made (the ink's bounding box scaled to fit 20x20 with its
// aspect ratio kept, anti-aliased by area averaging, then placed in a 28x28 field so that its
// centre of mass is at the centre; white on black, values in [0, 1]) and classified by the
// exported network with onnxruntime-web's WebAssembly build. The last result is kept in
// window.blasnet (input, logits, probabilities, prediction) for anyone who wants to check it.
import * as ort from '/ort/ort.wasm.min.mjs';

const SIDE = 280;          // drawing canvas, 10x the MNIST field
const FIELD = 28;          // MNIST image side
const BOX = 20;            // MNIST digits fit a 20x20 box inside the 28x28 field
const INK = 0.05;          // intensity above which a pixel counts as ink for the bounding box

const state = { state: 'loading', count: 0, input: null, logits: null, probabilities: null, prediction: null, error: null };
window.blasnet = state;

const pad = document.getElementById('pad');
const ctx = pad.getContext('2d', { willReadFrequently: true });
const preview = document.getElementById('preview').getContext('2d');
const predictionEl = document.getElementById('prediction');
const statusEl = document.getElementById('status');
const barsEl = document.getElementById('bars');

function clearPad() {
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, SIDE, SIDE);
  preview.clearRect(0, 0, FIELD, FIELD);
  predictionEl.textContent = '?';
  barsEl.replaceChildren();
  state.input = state.logits = state.probabilities = state.prediction = null;
}

/** The drawing as MNIST would have it: Float32Array(784), white digit on black in [0, 1], or null when empty. */
export function preprocess(pixels, side = SIDE) {
  const v = new Float32Array(side * side);
  let x0 = side, y0 = side, x1 = -1, y1 = -1;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const a = pixels[(y * side + x) * 4] / 255;   // red channel: the ink is white
      v[y * side + x] = a;
      if (a > INK) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return null;
  const w = x1 - x0 + 1, h = y1 - y0 + 1;
  const scale = BOX / Math.max(w, h);
  const tw = Math.max(1, Math.round(w * scale)), th = Math.max(1, Math.round(h * scale));
  // Each small pixel is the area-weighted mean of the drawing pixels it covers.
  const fx = w / tw, fy = h / th;
  const small = new Float32Array(tw * th);
  let peak = 0;
  for (let j = 0; j < th; j++) {
    const sy0 = y0 + j * fy, sy1 = sy0 + fy;
    for (let i = 0; i < tw; i++) {
      const sx0 = x0 + i * fx, sx1 = sx0 + fx;
      let sum = 0;
      for (let sy = Math.floor(sy0); sy < Math.ceil(sy1); sy++) {
        const wy = Math.min(sy + 1, sy1) - Math.max(sy, sy0);
        for (let sx = Math.floor(sx0); sx < Math.ceil(sx1); sx++) {
          const wx = Math.min(sx + 1, sx1) - Math.max(sx, sx0);
          sum += wx * wy * v[sy * side + sx];
        }
      }
      const m = sum / (fx * fy);
      small[j * tw + i] = m;
      if (m > peak) peak = m;
    }
  }
  // Strokes reach full white in MNIST; centre of mass of the ink.
  let mass = 0, mx = 0, my = 0;
  for (let j = 0; j < th; j++) {
    for (let i = 0; i < tw; i++) {
      const m = Math.min(1, small[j * tw + i] / peak);
      small[j * tw + i] = m;
      mass += m; mx += (i + 0.5) * m; my += (j + 0.5) * m;
    }
  }
  const ox = Math.round(FIELD / 2 - mx / mass), oy = Math.round(FIELD / 2 - my / mass);
  const out = new Float32Array(FIELD * FIELD);
  for (let j = 0; j < th; j++) {
    for (let i = 0; i < tw; i++) {
      const X = i + ox, Y = j + oy;
      if (X >= 0 && X < FIELD && Y >= 0 && Y < FIELD) out[Y * FIELD + X] = small[j * tw + i];
    }
  }
  return out;
}

function showPreview(input) {
  const img = preview.createImageData(FIELD, FIELD);
  for (let k = 0; k < FIELD * FIELD; k++) {
    const g = Math.round(input[k] * 255);
    img.data.set([g, g, g, 255], k * 4);
  }
  preview.putImageData(img, 0, 0);
}

function showResult(probabilities, prediction) {
  predictionEl.textContent = String(prediction);
  const items = Array.from(probabilities, (p, c) => {
    const li = document.createElement('li');
    if (c === prediction) li.className = 'top';
    const label = document.createElement('span');
    label.textContent = `${c}`;
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.width = `${Math.round(p * 160)}px`;
    const pct = document.createElement('span');
    pct.textContent = `${(p * 100).toFixed(1)}%`;
    li.append(label, bar, pct);
    return li;
  });
  barsEl.replaceChildren(...items);
}

async function main() {
  const info = await (await fetch('/model.json')).json();
  document.getElementById('model').textContent =
    `${info.kind}: input [N, ${info.inputShape.join(', ')}], ONNX operators ${info.operators.join(', ')}`;
  ort.env.wasm.wasmPaths = '/ort/';
  ort.env.wasm.numThreads = 1;   // no SharedArrayBuffer needed, no worker
  const session = await ort.InferenceSession.create('/model.onnx', { executionProviders: ['wasm'] });
  const dims = info.inputShape.length === 1 ? [1, FIELD * FIELD] : [1, 1, FIELD, FIELD];

  let running = Promise.resolve();
  const classify = () => {
    running = running.then(async () => {
      const input = preprocess(ctx.getImageData(0, 0, SIDE, SIDE).data);
      if (input === null) return;
      showPreview(input);
      const out = await session.run({ input: new ort.Tensor('float32', input, dims) });
      const logits = Array.from(out.logits.data), probabilities = Array.from(out.probabilities.data);
      let prediction = 0;
      for (let c = 1; c < logits.length; c++) if (logits[c] > logits[prediction]) prediction = c;
      Object.assign(state, { input: Array.from(input), logits, probabilities, prediction, count: state.count + 1 });
      showResult(probabilities, prediction);
    }).catch((err) => {
      state.state = 'error';
      state.error = String(err && err.message ? err.message : err);
      statusEl.textContent = `error: ${state.error}`;
    });
  };

  let last = null;
  const point = (e) => {
    const r = pad.getBoundingClientRect();
    return [(e.clientX - r.left) * (SIDE / r.width), (e.clientY - r.top) * (SIDE / r.height)];
  };
  pad.addEventListener('pointerdown', (e) => {
    pad.setPointerCapture(e.pointerId);
    last = point(e);
    ctx.beginPath();
    ctx.arc(last[0], last[1], ctx.lineWidth / 2, 0, 2 * Math.PI);
    ctx.fill();
  });
  pad.addEventListener('pointermove', (e) => {
    if (last === null) return;
    const p = point(e);
    ctx.beginPath();
    ctx.moveTo(last[0], last[1]);
    ctx.lineTo(p[0], p[1]);
    ctx.stroke();
    last = p;
  });
  const end = () => {
    if (last === null) return;
    last = null;
    classify();
  };
  pad.addEventListener('pointerup', end);
  pad.addEventListener('pointercancel', end);
  document.getElementById('clear').addEventListener('click', () => {
    running = running.then(() => { clearPad(); ctx.fillStyle = '#fff'; });
  });

  clearPad();
  ctx.strokeStyle = '#fff';
  ctx.fillStyle = '#fff';
  ctx.lineWidth = 22;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  state.state = 'ready';
  statusEl.textContent = 'ready: draw a digit (each stroke is classified when you lift the pen)';
}

main().catch((err) => {
  state.state = 'error';
  state.error = String(err && err.message ? err.message : err);
  statusEl.textContent = `error: ${state.error}`;
});
