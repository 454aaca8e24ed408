// The page `twnn web` serves: it loads train.onnx into onnxruntime-web (WASM)
// and trains the sine TWNN in the tab, feeding each step's `<name>.new`
// outputs back as the next step's inputs, as the node trainer does; every few
// steps it draws the loss and the wave the model generates from a test window.
// `window.twnnProgress` exposes the losses to tests (and to the curious).

/** The HTML shell. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>twnn: training a TWNN in the browser</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
  canvas { border: 1px solid #ccc; margin: 0.5em 1em 0.5em 0; }
  .legend span { display: inline-block; width: 1.5em; height: 3px; vertical-align: middle; margin: 0 0.3em 0 1em; }
</style>
</head>
<body>
<h1>Training a Temporal Wormhole Neural Network in this tab</h1>
<p id="status">loading onnxruntime-web...</p>
<div>
  <canvas id="loss" width="480" height="280"></canvas>
  <canvas id="wave" width="480" height="280"></canvas>
</div>
<p class="legend">loss per step (log scale)<span style="background:#1f77b4"></span>
  wave: true<span style="background:#999"></span> generated<span style="background:#d62728"></span></p>
<script type="module" src="/app.js"></script>
</body>
</html>
`;

/** The page's script (an ES module, no build step). */
export const PAGE_SCRIPT = `import * as ort from '/ort/ort.wasm.min.mjs';

ort.env.wasm.wasmPaths = '/ort/';
ort.env.wasm.numThreads = 1; // threads need cross-origin isolation; one is plenty for this model
const progress = (window.twnnProgress = { step: 0, steps: 0, losses: [], generated: [], done: false, error: null });
const status = document.getElementById('status');
const TYPED = { float32: Float32Array, float64: Float64Array, int64: BigInt64Array };

function decode(t) {
  const bytes = Uint8Array.from(atob(t.base64), (c) => c.charCodeAt(0));
  return new ort.Tensor(t.dtype, new TYPED[t.dtype](bytes.buffer), t.shape);
}

function decodeAll(encoded) {
  return Object.fromEntries(Object.entries(encoded ?? {}).map(([name, t]) => [name, decode(t)]));
}

function plot(canvas, series, { log = false } = {}) {
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const f = (v) => (log ? Math.log10(Math.max(v, 1e-12)) : v);
  const all = series.flatMap((s) => s.values.map(f)).filter(Number.isFinite);
  if (all.length === 0) return;
  const lo = Math.min(...all), hi = Math.max(...all), span = hi - lo || 1;
  const n = Math.max(...series.map((s) => s.values.length), 2);
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    s.values.forEach((v, i) => {
      const x = 8 + (i / (n - 1)) * (canvas.width - 16);
      const y = canvas.height - 8 - ((f(v) - lo) / span) * (canvas.height - 16);
      i === 0 ? ctx.moveTo(x, y) : ctx.lineTo(x, y);
    });
    ctx.stroke();
  }
}

// The budget (each region's tol.<region>, max_iter.<region>) defaults to the built one the plan carries.
async function generate(predict, plan, feeds, budget = decodeAll(plan.budget)) {
  const history = [...plan.seedWindow];
  const params = { ...Object.fromEntries(plan.params.map((name) => [name, feeds[name]])), ...budget };
  for (let i = 0; i < plan.truth.length; i++) {
    const window = Float32Array.from(history.slice(history.length - plan.window));
    const out = await predict.run({ ...params, x: new ort.Tensor(plan.dtype, plan.dtype === 'float64' ? Float64Array.from(window) : window, [1, plan.window]) });
    history.push(Number(out.y.data[0]));
  }
  return history.slice(plan.window);
}

async function main() {
  const plan = await (await fetch('/plan.json')).json();
  progress.steps = plan.steps;
  const options = { executionProviders: ['wasm'] };
  const train = await ort.InferenceSession.create('/train.onnx', options);
  const predict = await ort.InferenceSession.create('/predict.onnx', options);
  const feeds = Object.fromEntries(Object.entries(plan.initial).map(([name, t]) => [name, decode(t)]));
  for (let k = 0; k < plan.steps; k++) {
    if (k > 0) {
      feeds.x = decode(plan.batches[k].x);
      feeds.target = decode(plan.batches[k].target);
      feeds.step = new ort.Tensor('int64', BigInt64Array.from([BigInt(k + 1)]), []);
    }
    const out = await train.run(feeds);
    // train.onnx returns every updated weight and optimizer slot as <name>.new: next step's <name>.
    for (const [name, t] of Object.entries(out)) if (name.endsWith('.new')) feeds[name.slice(0, -4)] = t;
    progress.losses.push(Number(out.loss.data[0]));
    progress.step = k + 1;
    if (progress.step % plan.drawEvery === 0 || progress.step === plan.steps) {
      progress.generated = await generate(predict, plan, feeds);
      plot(document.getElementById('loss'), [{ values: progress.losses, color: '#1f77b4' }], { log: true });
      plot(document.getElementById('wave'), [{ values: plan.truth, color: '#999' }, { values: progress.generated, color: '#d62728' }]);
      status.textContent = 'step ' + progress.step + ' of ' + plan.steps + ': loss ' + progress.losses.at(-1).toExponential(3);
      await new Promise((r) => setTimeout(r)); // let the page paint
    }
  }
  status.textContent += ' (done)';
  progress.done = true;
}

main().catch((err) => {
  progress.error = String(err && err.stack ? err.stack : err);
  status.textContent = 'error: ' + progress.error;
});
`;
