// What blocked convolutions (src/onnx/blocked-conv.ts) save on a trained
// TWNN's inference graph: model.onnx with its paper weights, opened twice on
// the CPU (blocked convolutions off and on), checked to give the same outputs
// and sweeps on real test rows, then timed interleaved batch by batch, one
// session at a time alive per pass. The training step has its own A/B:
// `tools/train-step-ab.ts <name> --blocked`.
//
//   node --import tsx tools/blocked-conv-ab.ts mnist-resnet [--batches 4] [--repeats 5]
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { buildInferenceGraph } from '../src/lower/inference.js';
import { serializeModel } from '../src/onnx/serialize.js';
import { openSession } from '../src/runtime/session.js';
import { paperRun, testBatches, interleavedMedians } from './paper-run.js';

export interface BlockedAb {
  /** Median ms per batch of 64, blocked convolutions off and on. */
  off: number;
  on: number;
  /** Largest |y| difference between the two, and samples whose sweeps differ. */
  maxDiff: number;
  sweepMismatches: number;
}

/**
 * Time graphs/<name>.ts's model.onnx (paper weights) with blocked convolutions off and on.
 *
 * @example const ab = await compareInference('mnist-resnet', 4, 5); ab.on / ab.off
 */
export async function compareInference(name: string, batches: number, repeats: number): Promise<BlockedAb> {
  const { spec, weights } = await paperRun(name);
  const bytes = serializeModel(buildInferenceGraph(spec, { weights }).graph);
  const xs = (await testBatches(spec, batches)).map((b) => b.x);
  const sessions = { off: await openSession(bytes, { where: 'off', blockedConvolutions: false }), on: await openSession(bytes, { where: 'on', blockedConvolutions: true }) };
  try {
    let maxDiff = 0;
    let sweepMismatches = 0;
    for (const x of xs) {
      const [a, b] = [await sessions.off.run({ x }), await sessions.on.run({ x })];
      const [ya, yb] = [a.y.toNumbers(), b.y.toNumbers()];
      maxDiff = ya.reduce((m, v, i) => Math.max(m, Math.abs(v - yb[i]!)), maxDiff);
      for (const key of Object.keys(a).filter((k) => k.startsWith('iterations'))) {
        const [ia, ib] = [a[key]!.toNumbers(), b[key]!.toNumbers()];
        sweepMismatches += ia.filter((v, i) => v !== ib[i]).length;
      }
    }
    const passes = (s: typeof sessions.on) => async () => {
      for (const x of xs) await s.run({ x });
    };
    const t = await interleavedMedians({ off: passes(sessions.off), on: passes(sessions.on) }, repeats);
    return { off: t.off / xs.length, on: t.on / xs.length, maxDiff, sweepMismatches };
  } finally {
    await sessions.off.close();
    await sessions.on.close();
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { batches: { type: 'string', default: '4' }, repeats: { type: 'string', default: '5' } } });
  const name = positionals[0] ?? 'mnist-resnet';
  const ab = await compareInference(name, Number(values.batches), Number(values.repeats));
  process.stdout.write(
    `${name} model.onnx, batch 64, ${values.batches} test batches x ${values.repeats} interleaved passes: blocked convolutions off ${ab.off.toFixed(1)} ms, on ${ab.on.toFixed(1)} ms per batch ` +
      `(on/off ${(ab.on / ab.off).toFixed(3)}); largest y difference ${ab.maxDiff.toExponential(1)}, ${ab.sweepMismatches} samples with other sweep counts\n`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
