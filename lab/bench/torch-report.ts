// docs/PERFORMANCE.md from a `twnn bench torch` run: the machine, the method,
// a summary against the issue's targets, and per model its timings, the torch
// settings tried, and the agreement checks that ran before any timing.
import { describeSetting, fmt, SWEEP_MODES, type ModelResult, type Timing, type TorchBenchResult, type WorkloadResult } from './torch.js';

/**
 * The report as markdown.
 *
 * @example await writeFileAtomic('docs/PERFORMANCE.md', torchReport(result, 'twnn bench torch'));
 */
export function torchReport(r: TorchBenchResult, command: string): string {
  const m = r.machine;
  const lines = [
    '# Performance: twnn against PyTorch',
    '',
    `Written by \`${command}\` (${r.seconds.toFixed(0)} s); regenerate it with that command, do not edit it by hand.`,
    '',
    `**Machine**: ${m.cpu}, ${m.cores} cores, load average ${m.load[0].toFixed(2)} when the run started and ${m.load[1].toFixed(2)} when it ended` +
      `${m.othersShare !== undefined ? `; other processes used ${(m.othersShare * 100).toFixed(0)}% of the CPU time during the run` : ''}. ` +
      `twnn: ${m.onnxruntime} (CPU execution provider, one intra-op thread per physical core), Node ${m.node}. ` +
      `PyTorch: torch ${m.torch} (Debian, CPU${m.mkldnn ? ', oneDNN' : ''}) on Python ${m.python}, BLAS ${m.blas}.`,
    '',
    ...(busy(m)
      ? [
          `**A busy machine**: ${m.othersShare !== undefined ? `other processes used ${(m.othersShare * 100).toFixed(0)}% of the CPU time while the bench ran` : 'the load average was above half the cores'}, ` +
            "so the timings are noisier than on an idle machine, and on busy cores PyTorch's tuning favours one thread while twnn runs onnxruntime's default of a thread per core.",
          '',
        ]
      : []),
    ...(r.disagreements.length > 0
      ? ['**The agreement check failed; these numbers were timed anyway (`--keep-going`) and compare different computations:**', '', ...r.disagreements.map((d) => `- ${d}`), '']
      : []),
    '**Method.** Both sides run the same network with the same weights: twnn builds `model.onnx`, `grad.onnx` and `train.onnx` from the graph file ' +
      "with the weights named below, and the PyTorch twin (`python/twnn_torch.py`) is built from twnn's description of the spec " +
      "and loads that model.onnx's initializers; each region follows its `twnn.loop:<region>/iterate` metadata. Before anything is timed they must agree " +
      '(tables below): outputs, per-sample sweeps, gradients, and one whole optimizer step. ' +
      `Inference times are per batch (a pass over the first test rows at that batch size, divided by its batches; PyTorch under \`torch.inference_mode\`); ` +
      'a training step is one optimizer step on the first test rows from the same weights and a zero optimizer state every time: the forward fixed point ' +
      'without grad, one sweep at S* with grad, the adjoint fixed point by vector-Jacobian products with the same per-sample stop, the parameter gradients, ' +
      'and the optimizer. PyTorch sweeps two ways: *dense* (the whole batch every sweep, settled samples frozen) and *active* (only the unsettled rows, ' +
      'the adjoint re-linearised on the unsettled rows once they are half of those it linearised); each is tuned per workload over ' +
      'torch.set_num_threads {1, 2} × OPENBLAS_NUM_THREADS {1, default} (one worker process per OpenBLAS setting), and the faster of the two tuned ' +
      `modes is the baseline. twnn and both PyTorch modes then run interleaved, ${r.repeats} passes each, the order rotating every repeat, every other torch worker process frozen (SIGSTOP) while one is timed, since idle PyTorch workers slowed what ran beside them; ` +
      'the tables give the median [min–max] in milliseconds. Ratio: twnn median / baseline median (below 1: twnn is faster); target: issue 21.',
    '',
    '## Summary',
    '',
    '| model | workload | sweeps/sample | twnn ms | PyTorch ms (baseline) | ratio | target | verdict |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const model of r.models) {
    for (const w of model.workloads) {
      lines.push(`| ${model.title} | ${workloadLabel(w)} | ${sweeps(w)} | ${ms(w.twnn.median)} | ${ms(w.torch[w.baseline].timing.median)} (${w.baseline}) | ${w.ratio.toFixed(2)} | ${target(w)} | ${verdict(w)} |`);
    }
  }
  lines.push('');
  for (const model of r.models) lines.push(...modelSection(model));
  return `${lines.join('\n')}\n`;
}

function modelSection(model: ModelResult): string[] {
  const lines = [`## ${model.title}`, '', `\`${model.graph}\`, ${model.parameters.toLocaleString('en-US')} parameters, weights: ${model.weightsFrom}.`, ''];
  lines.push('| workload | rows per pass | sweeps/sample | twnn ms | PyTorch dense ms | PyTorch active ms | ratio | target | verdict |');
  lines.push('|---|---|---|---|---|---|---|---|---|');
  for (const w of model.workloads) {
    const torch = SWEEP_MODES.map((mode) => `${spread(w.torch[mode].timing)}${w.baseline === mode ? ' (baseline)' : ''}<br>${describeSetting(w.torch[mode])}`);
    lines.push(`| ${workloadLabel(w)} | ${w.rows} | ${sweeps(w)} | ${spread(w.twnn)} | ${torch.join(' | ')} | ${w.ratio.toFixed(2)} | ${target(w)} | ${verdict(w)} |`);
  }
  lines.push('', 'PyTorch tuning (the fastest tuning pass of each setting, ms):', '');
  const settings = model.workloads[0]?.tuning ?? [];
  lines.push(`| workload | ${settings.map((s) => `${s.mode}, ${describeSetting(s)}`).join(' | ')} |`);
  lines.push(`|---|${settings.map(() => '---').join('|')}|`);
  for (const w of model.workloads) lines.push(`| ${workloadLabel(w)} | ${w.tuning.map((t) => ms(t.ms)).join(' | ')} |`);
  lines.push('', 'Agreement with PyTorch, checked before timing:', '');
  lines.push('| check | PyTorch mode | measured | limit | | note |');
  lines.push('|---|---|---|---|---|---|');
  for (const c of model.agreement) lines.push(`| ${c.what} | ${c.mode} | ${fmt(c.value)} | ${fmt(c.limit)} | ${c.ok ? 'ok' : '**failed**'} | ${c.note ?? ''} |`);
  lines.push('');
  return lines;
}

/** Other processes took a tenth of the CPU (or, where /proc cannot tell, the load average was above half the cores). */
function busy(m: TorchBenchResult['machine']): boolean {
  return m.othersShare !== undefined ? m.othersShare > 0.1 : Math.max(...m.load) > m.cores / 2;
}

function workloadLabel(w: WorkloadResult): string {
  return w.kind === 'inference' ? `inference, batch ${w.batch}` : `training step, batch ${w.batch}`;
}

function sweeps(w: WorkloadResult): string {
  return w.adjointSteps === undefined ? w.sweeps.toFixed(2) : `${w.sweeps.toFixed(2)} (adjoint ${w.adjointSteps.toFixed(2)})`;
}

function target(w: WorkloadResult): string {
  return w.target === undefined ? '—' : `≤ ${w.target}`;
}

function verdict(w: WorkloadResult): string {
  if (w.target === undefined) return '—';
  return w.ratio <= w.target ? 'met' : '**not met**';
}

function ms(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function spread(t: Timing): string {
  return `${ms(t.median)} [${ms(t.min)}–${ms(t.max)}]`;
}
