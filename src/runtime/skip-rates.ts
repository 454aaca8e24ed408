// How often a model's skip-gated blocks (src/twnn/skip-gate.ts) skipped: its
// `skip_gate.<block>` outputs compared with the thresholds model.onnx records
// in its `twnn.skip_gates` metadata.
import type { onnx as OnnxTypes } from 'onnx-proto';
import type { Tensor } from '../ir/tensor.js';
import { SKIP_GATES_KEY } from '../contract/metadata-keys.js';

/** Per block: samples seen and samples that skipped it. */
export type SkipCounts = Record<string, { threshold: number; seen: number; skipped: number }>;

/** One block's skip rate over an evaluation. */
export interface SkipRate {
  block: string;
  threshold: number;
  /** Fraction of the samples whose gate was below the threshold (they did not run the block's branch). */
  rate: number;
}

/**
 * The skip-gated blocks' thresholds of a model (empty without any, or for a
 * model exported before twnn had skip gates).
 *
 * @example skipThresholds(await readModelFile('exported/fashion-resnet-skip/model.onnx')) // { 'region1.B1': 0.5, ... }
 */
export function skipThresholds(model: OnnxTypes.IModelProto): Record<string, number> {
  const entry = (model.metadataProps ?? []).find((p) => p.key === SKIP_GATES_KEY);
  if (!entry?.value) return {};
  try {
    const parsed = JSON.parse(entry.value) as unknown;
    if (typeof parsed !== 'object' || parsed === null) return {};
    return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, number] => typeof e[1] === 'number'));
  } catch {
    return {};
  }
}

/**
 * Add a batch's gates to `counts`: for each block of `thresholds`, the
 * samples of `outputs[skip_gate.<block>]` below its threshold.
 *
 * @example countSkips(totals.skips, out, { 'region2.B4': 0.5 });
 */
export function countSkips(counts: SkipCounts, outputs: Readonly<Record<string, Tensor>>, thresholds: Readonly<Record<string, number>>): void {
  for (const [block, threshold] of Object.entries(thresholds)) {
    const gate = outputs[`skip_gate.${block}`];
    if (!gate) continue;
    const c = (counts[block] ??= { threshold, seen: 0, skipped: 0 });
    for (const s of gate.toNumbers()) {
      c.seen += 1;
      if (s < threshold) c.skipped += 1;
    }
  }
}

/**
 * Counts as rates, in block order.
 *
 * @example skipRates(totals.skips) // [{ block: 'region2.B4', threshold: 0.5, rate: 0.41 }]
 */
export function skipRates(counts: SkipCounts): SkipRate[] {
  return Object.entries(counts).map(([block, c]) => ({ block, threshold: c.threshold, rate: c.seen > 0 ? c.skipped / c.seen : 0 }));
}

/**
 * One line for a report: `skipped: region1.B1 12.5%, region2.B4 41.0% (gate < 0.5)`.
 *
 * @example skipSummary(result.skipRates)
 */
export function skipSummary(rates: readonly SkipRate[]): string {
  const thresholds = [...new Set(rates.map((r) => r.threshold))];
  const each = rates.map((r) => `${r.block} ${(100 * r.rate).toFixed(1)}%${thresholds.length > 1 ? ` (gate < ${r.threshold})` : ''}`);
  return `skipped: ${each.join(', ')}${thresholds.length === 1 ? ` (gate < ${thresholds[0]})` : ''}`;
}
