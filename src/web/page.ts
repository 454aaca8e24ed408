// The page `twnn web` serves. It loads train.onnx into onnxruntime-web (WASM)
// and trains the exported TWNN in the tab, feeding each step's `<name>.new`
// outputs back as the next step's inputs, as the node trainer does, on batch k
// fetched from the server (the same seeded batches `twnn train` draws). The
// charts are src/report's Vega-Lite specs (plan.json carries them), embedded
// once with vega-embed; each step appends rows to their named data through a
// Vega changeset, so nothing is redrawn from scratch and nothing flickers.
// Every few steps, and whenever the maxIter slider moves, it runs the inference
// graph on a fixed test sample: the sweeps histogram, and the generated wave
// (sine) or the test accuracy and a few digits (MNIST).
// `window.twnnProgress` exposes the numbers to tests (and to the curious).

/** The HTML shell; the script adds one element per chart the plan names. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>twnn: training a TWNN in the browser</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 1.5em 2em; color: #222; max-width: 1020px; }
  h1 { font-size: 1.4em; margin: 0 0 0.3em; }
  #controls { display: flex; flex-wrap: wrap; gap: 0.4em 1.2em; align-items: center; margin: 0.6em 0; }
  #controls input[type=number] { width: 6em; }
  #controls input:invalid { outline: 2px solid #d62728; }
  #status { font-variant-numeric: tabular-nums; min-height: 1.4em; }
  #charts { display: grid; grid-template-columns: repeat(2, 480px); gap: 0.5em 1em; }
  #digits { display: flex; flex-wrap: wrap; gap: 0.8em; margin-top: 0.5em; }
  #digits figure { margin: 0; width: 8.5em; text-align: center; font-size: 13px; }
  #digits canvas { width: 64px; height: 64px; image-rendering: pixelated; border: 1px solid #ccc; }
  #digits .wrong { color: #d62728; }
</style>
</head>
<body>
<h1>Training a Temporal Wormhole Neural Network in this tab</h1>
<p id="about"></p>
<div id="controls">
  <button id="start" disabled>start</button>
  <button id="pause" disabled>pause</button>
  <button id="reset" disabled>reset</button>
  <label>learning rate <input id="lr" type="number" min="0" step="any" required></label>
  <label>batch <input id="batch" type="number" min="1" step="1" required></label>
  <label>steps <input id="steps" type="number" min="1" step="1" required></label>
  <label id="budget">maxIter for inference <input id="maxIter" type="range" min="2" step="1"> <output id="maxIterValue"></output></label>
</div>
<p id="status">loading onnxruntime-web...</p>
<div id="charts"></div>
<div id="digits"></div>
<script src="/vega/vega.min.js"></script>
<script src="/vega/vega-lite.min.js"></script>
<script src="/vega/vega-embed.min.js"></script>
<script type="module" src="/app.js"></script>
</body>
</html>
`;

/** The page's script (an ES module, no build step). */
export const PAGE_SCRIPT = `import * as ort from '/ort/ort.wasm.min.mjs';

const { vega, vegaEmbed } = window;
ort.env.wasm.wasmPaths = '/ort/';
ort.env.wasm.numThreads = 1; // threads need cross-origin isolation; one is plenty for these models
const progress = (window.twnnProgress = {
  kind: null, ready: false, step: 0, steps: 0, running: false, done: false, error: null, options: null,
  losses: [], forward: [], adjoint: [], generated: [], testSweeps: [], accuracy: null, evaluations: 0,
});
const $ = (id) => document.getElementById(id);
const TYPED = { float32: Float32Array, float64: Float64Array, int64: BigInt64Array };
const DIGITS = 8;
let plan, opts, train, predict, test, feeds, looping = null;
const views = {};
const batches = new Map();

function decode(t) {
  const bytes = Uint8Array.from(atob(t.base64), (c) => c.charCodeAt(0));
  return new ort.Tensor(t.dtype, new TYPED[t.dtype](bytes.buffer), t.shape);
}

function decodeAll(encoded) {
  return Object.fromEntries(Object.entries(encoded ?? {}).map(([name, t]) => [name, decode(t)]));
}

function scalar(dtype, v) {
  return new ort.Tensor(dtype, dtype === 'int64' ? BigInt64Array.from([BigInt(v)]) : TYPED[dtype].from([v]), []);
}

const mean = (xs) => Array.from(xs, Number).reduce((a, b) => a + b, 0) / xs.length;

// The URL query sets what the controls set, so a link reproduces a run.
const INTEGER_OPTIONS = ['batch', 'steps', 'drawEvery', 'maxIter'];
function readOptions() {
  const o = { ...plan.defaults, maxIter: plan.maxIter, autostart: true };
  for (const [key, value] of new URLSearchParams(location.search)) {
    if (key === 'lr') {
      if (!(Number(value) > 0 && Number.isFinite(Number(value)))) throw new Error('URL query lr=' + value + ': expected a positive number');
      o.lr = Number(value);
    } else if (INTEGER_OPTIONS.includes(key)) {
      if (!/^[1-9][0-9]{0,8}$/.test(value)) throw new Error('URL query ' + key + '=' + value + ': expected a positive integer');
      o[key] = Number(value);
      if (key === 'batch' && o.batch > plan.maxBatch) throw new Error('URL query batch=' + value + ': expected at most ' + plan.maxBatch);
    } else if (key === 'autostart') {
      if (value !== '0' && value !== '1') throw new Error('URL query autostart=' + value + ': expected 0 or 1');
      o.autostart = value === '1';
    } else {
      throw new Error("URL query: unknown option '" + key + "' (the page takes lr, batch, steps, drawEvery, maxIter, autostart)");
    }
  }
  if (plan.maxIter === null && new URLSearchParams(location.search).has('maxIter')) throw new Error('URL query maxIter: this export has no run-time budget inputs; re-export it to set one');
  if (plan.maxIter !== null && (o.maxIter < 2 || o.maxIter > plan.maxIter)) throw new Error('URL query maxIter=' + o.maxIter + ': expected 2 to ' + plan.maxIter + ' (the built maxIter)');
  return o;
}

function writeQuery() {
  const q = new URLSearchParams({ lr: String(opts.lr), batch: String(opts.batch), steps: String(opts.steps) });
  if (plan.maxIter !== null) q.set('maxIter', String(opts.maxIter));
  history.replaceState(null, '', '?' + q);
}

function setupControls() {
  for (const key of ['lr', 'batch', 'steps']) {
    const input = $(key);
    input.value = String(opts[key]);
    input.addEventListener('change', () => {
      const v = Number(input.value);
      const top = key === 'batch' ? plan.maxBatch : Infinity;
      const ok = key === 'lr' ? v > 0 && Number.isFinite(v) : Number.isInteger(v) && v >= 1 && v <= top;
      if (!ok) return say(key + ' ' + input.value + ': expected ' + (key === 'lr' ? 'a positive number' : 'an integer from 1' + (top < Infinity ? ' to ' + top : '')) + '; kept ' + opts[key]);
      opts[key] = v;
      progress.steps = opts.steps;
      writeQuery();
      buttons();
    });
  }
  $('batch').max = String(plan.maxBatch);
  if (plan.maxIter === null) $('budget').hidden = true;
  else {
    const slider = $('maxIter');
    slider.max = String(plan.maxIter);
    slider.value = String(opts.maxIter);
    $('maxIterValue').textContent = slider.value;
    slider.addEventListener('input', () => ($('maxIterValue').textContent = slider.value));
    slider.addEventListener('change', () => {
      opts.maxIter = Number(slider.value);
      writeQuery();
      evaluate(false).catch(fail);
    });
  }
  $('start').addEventListener('click', start);
  $('pause').addEventListener('click', () => pause().catch(fail));
  $('reset').addEventListener('click', () => reset().catch(fail));
}

function buttons() {
  $('start').disabled = progress.running || progress.step >= opts.steps;
  $('pause').disabled = !progress.running;
  $('reset').disabled = false;
}

function say(text) {
  $('status').textContent = text;
}

function report(suffix = '') {
  const parts = ['step ' + progress.step + ' of ' + opts.steps];
  if (progress.losses.length > 0) parts.push('loss ' + progress.losses.at(-1).toExponential(3));
  if (progress.forward.length > 0) parts.push('sweeps per sample: forward ' + progress.forward.at(-1).toFixed(2) + (progress.adjoint.at(-1) === null ? '' : ', adjoint ' + progress.adjoint.at(-1).toFixed(2)));
  if (progress.accuracy !== null) parts.push('test accuracy ' + (100 * progress.accuracy).toFixed(1) + '%');
  say(parts.join(' · ') + suffix);
}

function start() {
  if (looping || progress.step >= opts.steps) return;
  progress.running = true;
  progress.done = false;
  buttons();
  looping = loop()
    .catch(fail)
    .finally(() => {
      looping = null;
      progress.running = false;
      buttons();
    });
}

async function pause() {
  progress.running = false;
  await looping;
  report(' (paused)');
}

async function reset() {
  progress.running = false;
  await looping;
  restart();
  await evaluate(true);
  report(' (reset to the exported weights)');
  buttons();
}

// The exported weights, zero optimizer state, no steps taken.
function restart() {
  feeds = decodeAll(plan.initial);
  batches.clear();
  Object.assign(progress, { step: 0, done: false, losses: [], forward: [], adjoint: [], accuracy: null });
  for (const name of ['loss', 'sweeps', 'accuracy']) if (views[name]) views[name].change(name, vega.changeset().remove(vega.truthy)).run();
}

async function loop() {
  while (progress.running && progress.step < opts.steps) {
    await trainStep();
    if (progress.step % opts.drawEvery === 0 || progress.step === opts.steps) await evaluate(true);
    else await new Promise((r) => setTimeout(r)); // let the page paint and the buttons answer
  }
  if (progress.step >= opts.steps) {
    progress.done = true;
    report(' (done)');
  }
}

// Batch k of size B, fetched once; the next one is fetched while this step runs.
function batchAt(size, k) {
  const key = size + '/' + k;
  if (!batches.has(key)) {
    const p = fetch('/batch/' + key).then(async (r) => {
      if (!r.ok) throw new Error('/batch/' + key + ': ' + r.status + ' ' + (await r.text()));
      return decodeAll(await r.json());
    });
    p.catch(() => {}); // a prefetch nobody awaits must not be an unhandled rejection
    batches.set(key, p);
  }
  return batches.get(key);
}

async function trainStep() {
  const k = progress.step;
  const batch = await batchAt(opts.batch, k);
  batches.delete(opts.batch + '/' + k);
  if (k + 1 < opts.steps) batchAt(opts.batch, k + 1);
  Object.assign(feeds, batch, { lr: scalar(plan.dtype, opts.lr), step: scalar('int64', k + 1) });
  const out = await train.run(feeds);
  // train.onnx returns every updated weight and optimizer slot as <name>.new: next step's <name>.
  for (const [name, t] of Object.entries(out)) if (name.endsWith('.new')) feeds[name.slice(0, -4)] = t;
  const loss = Number(out.loss.data[0]);
  const forward = out.iterations ? mean(out.iterations.data) : 1;
  const adjoint = out.iterations_backward ? mean(out.iterations_backward.data) : null;
  progress.losses.push(loss);
  progress.forward.push(forward);
  progress.adjoint.push(adjoint);
  progress.step = k + 1;
  views.loss.change('loss', vega.changeset().insert([{ series: plan.series.loss, x: k + 1, y: loss }])).run();
  const rows = [{ series: plan.series.forward, x: k + 1, y: forward }];
  if (adjoint !== null) rows.push({ series: plan.series.adjoint, x: k + 1, y: adjoint });
  views.sweeps.change('sweeps', vega.changeset().insert(rows)).run();
  report();
}

// Each region's max_iter.<region> from the slider; tol stays at its built default.
function budget() {
  const b = decodeAll(plan.budget);
  for (const name of Object.keys(b)) if (name.startsWith('max_iter.')) b[name] = scalar('int64', opts.maxIter);
  return b;
}

// One inference at a time: the slider may move while a step's evaluation runs.
let evaluating = Promise.resolve();
function evaluate(record) {
  const next = evaluating.then(() => evaluateNow(record));
  evaluating = next.catch(() => {});
  return next;
}

async function evaluateNow(record) {
  const fixed = { ...Object.fromEntries(plan.params.map((name) => [name, feeds[name]])), ...budget() };
  const out = await predict.run({ ...fixed, x: test.x });
  const rows = test.x.dims[0];
  const sweeps = out.iterations ? Array.from(out.iterations.data, Number) : new Array(rows).fill(1);
  progress.testSweeps = sweeps;
  views.histogram.change('histogram', vega.changeset().remove(vega.truthy).insert(bars(sweeps))).run();
  if (plan.kind === 'sine') {
    progress.generated = await generate(fixed);
    const wave = progress.generated.map((y, t) => ({ series: plan.series.generated, x: t + 1, y }));
    views.wave.change('wave', vega.changeset().remove((d) => d.series === plan.series.generated).insert(wave)).run();
  } else {
    const predicted = argmaxRows(out.y);
    const labels = Array.from(test.target.data, Number);
    progress.accuracy = predicted.filter((p, i) => p === labels[i]).length / rows;
    if (record) views.accuracy.change('accuracy', vega.changeset().insert([{ series: plan.series.accuracy, x: progress.step, y: 100 * progress.accuracy }])).run();
    drawDigits(predicted, labels, sweeps);
  }
  progress.evaluations += 1;
  report(progress.running || plan.maxIter === null ? '' : ' (maxIter ' + opts.maxIter + ')');
  await new Promise((r) => setTimeout(r)); // let the page paint
}

// One bar per sweep count, centred on it.
function bars(sweeps) {
  const counts = new Map();
  for (const s of sweeps) counts.set(s, (counts.get(s) ?? 0) + 1);
  return [...counts].map(([s, count]) => ({ start: s - 0.5, end: s + 0.5, count }));
}

function argmaxRows(y) {
  const [rows, classes] = y.dims;
  return Array.from({ length: rows }, (_, r) => {
    let best = 0;
    for (let c = 1; c < classes; c++) if (y.data[r * classes + c] > y.data[r * classes + best]) best = c;
    return best;
  });
}

// The sine model, fed its own predictions: the wave it generates from a test window.
async function generate(fixed) {
  const { window, seedWindow, truth } = plan.wave;
  const history = [...seedWindow];
  for (let i = 0; i < truth.length; i++) {
    const x = TYPED[plan.dtype].from(history.slice(history.length - window));
    const out = await predict.run({ ...fixed, x: new ort.Tensor(plan.dtype, x, [1, window]) });
    history.push(Number(out.y.data[0]));
  }
  return history.slice(window);
}

function drawDigits(predicted, labels, sweeps) {
  const box = $('digits');
  const side = Math.round(Math.sqrt(test.x.dims[1]));
  if (box.children.length === 0) {
    for (let i = 0; i < Math.min(DIGITS, labels.length); i++) {
      const figure = document.createElement('figure');
      const canvas = document.createElement('canvas');
      canvas.width = canvas.height = side;
      const pixels = test.x.data.subarray(i * side * side, (i + 1) * side * side);
      let lo = Infinity, hi = -Infinity;
      for (const v of pixels) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
      const image = canvas.getContext('2d').createImageData(side, side);
      pixels.forEach((v, p) => {
        const grey = 255 - Math.round((255 * (v - lo)) / (hi - lo || 1));
        image.data.set([grey, grey, grey, 255], 4 * p);
      });
      canvas.getContext('2d').putImageData(image, 0, 0);
      figure.append(canvas, document.createElement('figcaption'));
      box.append(figure);
    }
  }
  [...box.children].forEach((figure, i) => {
    const caption = figure.querySelector('figcaption');
    caption.textContent = 'label ' + labels[i] + ', predicted ' + predicted[i] + ' · ' + sweeps[i] + ' sweeps';
    caption.className = predicted[i] === labels[i] ? '' : 'wrong';
  });
}

function fail(err) {
  progress.error = String(err && err.stack ? err.stack : err);
  progress.running = false;
  say('error: ' + progress.error);
}

async function main() {
  plan = await (await fetch('/plan.json')).json();
  progress.kind = plan.kind;
  $('about').textContent = plan.about;
  opts = readOptions();
  progress.options = opts;
  progress.steps = opts.steps;
  setupControls();
  for (const [id, spec] of Object.entries(plan.charts)) {
    const div = document.createElement('div');
    div.id = id;
    $('charts').append(div);
    views[id] = (await vegaEmbed(div, spec, { renderer: 'svg', actions: false })).view;
  }
  const options = { executionProviders: ['wasm'] };
  [train, predict] = await Promise.all([ort.InferenceSession.create('/train.onnx', options), ort.InferenceSession.create('/predict.onnx', options)]);
  test = decodeAll(await (await fetch('/test.json')).json());
  if (plan.wave) views.wave.change('wave', vega.changeset().insert(plan.wave.truth.map((y, t) => ({ series: plan.series.truth, x: t + 1, y })))).run();
  restart();
  await evaluate(true); // what the exported weights do, before any step
  progress.ready = true;
  buttons();
  report(opts.autostart ? '' : ' (press start)');
  if (opts.autostart) start();
}

main().catch(fail);
`;
