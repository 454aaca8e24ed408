// The run-time budget of model.onnx: each fixed-point region's tol and
// maxIter are graph inputs, so a deployer trades accuracy for latency without
// re-exporting (docs/DESIGN.md §3). They are plain inputs, not initializers
// that double as inputs: onnxruntime-node 1.29 leaves those out of
// `inputNames` and ignores feeds to them. Their built values are the
// defaults, recorded as `twnn.budget` in model.onnx's metadata_props and as
// the manifest's `budget`, both `{ "<input>": default }`; twnn's runtime and
// the codegen wrappers feed them when the caller does not. Models exported
// before the budget was an input have neither, and run with their built one.
import { FormatError } from '../common/errors.js';

/** metadata_props key of model.onnx's budget inputs and their defaults, as JSON `{ "tol.region1": 0.001, "max_iter.region1": 300 }`. */
export const BUDGET_KEY = 'twnn.budget';

/** What a budget input sets. */
export type BudgetKind = 'tol' | 'max_iter';

/** The smallest maxIter a region takes: the plain sweep and one check (the build's own rule). */
export const MIN_MAX_ITER = 2;

/** The largest maxIter a budget input takes: int32's limit, so every runtime's and wrapper's integer holds it. */
export const MAX_MAX_ITER = 2 ** 31 - 1;

/** One region's budget: its inputs' names and their defaults (the built tol and maxIter). */
export interface RegionBudget {
  region: string;
  tolInput: string;
  maxIterInput: string;
  tol: number;
  maxIter: number;
}

/**
 * The name of region `region`'s budget input of `kind`. Every model names
 * them after their region, one region or several (`tol.region1`), so a
 * name never changes when a region is added, and says which Loop it sets.
 *
 * @example budgetInputName('max_iter', 'region1') // 'max_iter.region1'
 */
export function budgetInputName(kind: BudgetKind, region: string): string {
  return `${kind}.${region}`;
}

/**
 * The metadata / manifest record of the regions' budgets: input name →
 * default, tol before max_iter, regions in build order.
 *
 * @example encodeBudget([{ region: 'region1', tol: 1e-3, maxIter: 300 }]) // { 'tol.region1': 0.001, 'max_iter.region1': 300 }
 */
export function encodeBudget(regions: readonly { region: string; tol: number; maxIter: number }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of regions) {
    out[budgetInputName('tol', r.region)] = r.tol;
    out[budgetInputName('max_iter', r.region)] = r.maxIter;
  }
  return out;
}

/**
 * The regions' budgets from their record (metadata JSON or the manifest's
 * `budget`); a message naming `where` and the entry when it is malformed.
 * A model without budget inputs has none: `[]`.
 *
 * @example decodeBudget({ 'tol.region1': 0.001, 'max_iter.region1': 300 }, 'model.onnx')[0].maxIter // 300
 */
export function decodeBudget(record: unknown, where: string): RegionBudget[] {
  if (record === undefined) return [];
  if (typeof record !== 'object' || record === null || Array.isArray(record)) throw new FormatError(`${where}: the budget record (${BUDGET_KEY}) must be an object of input → default`);
  const regions = new Map<string, Partial<RegionBudget> & { region: string }>();
  for (const [name, value] of Object.entries(record)) {
    const m = /^(tol|max_iter)\.(.+)$/.exec(name);
    if (!m || typeof value !== 'number') throw new FormatError(`${where}: budget entry '${name}': ${JSON.stringify(value)} is not a 'tol.<region>' or 'max_iter.<region>' number`);
    const r = regions.get(m[2]) ?? { region: m[2] };
    if (m[1] === 'tol') Object.assign(r, { tol: value, tolInput: name });
    else Object.assign(r, { maxIter: value, maxIterInput: name });
    regions.set(m[2], r);
  }
  return [...regions.values()].map((r) => {
    if (r.tol === undefined || r.maxIter === undefined) throw new FormatError(`${where}: region '${r.region}' has a ${r.tol === undefined ? 'max_iter' : 'tol'} budget entry but no ${r.tol === undefined ? 'tol' : 'max_iter'} one`);
    return r as RegionBudget;
  });
}

/**
 * The regions' budgets from model.onnx's `twnn.budget` metadata text
 * (undefined: a model without budget inputs, `[]`).
 *
 * @example budgetFromMetadata('{"tol.region1":0.001,"max_iter.region1":300}', 'model.onnx')[0].tol // 0.001
 */
export function budgetFromMetadata(text: string | null | undefined, where: string): RegionBudget[] {
  if (text === undefined || text === null) return [];
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch {
    throw new FormatError(`${where}: its ${BUDGET_KEY} metadata is not JSON; re-export the model`);
  }
  return decodeBudget(record, where);
}

/**
 * What is wrong with a budget value for region `region`, or undefined when it
 * is fine: maxIter an integer in [MIN_MAX_ITER, MAX_MAX_ITER], tol a finite
 * number >= 0.
 *
 * @example budgetProblem('max_iter', 'region1', 0) // "maxIter of region 'region1' must be an integer from 2 to 2147483647, got 0"
 */
export function budgetProblem(kind: BudgetKind, region: string, value: number): string | undefined {
  if (kind === 'max_iter') {
    if (Number.isInteger(value) && value >= MIN_MAX_ITER && value <= MAX_MAX_ITER) return undefined;
    return `maxIter of region '${region}' must be an integer from ${MIN_MAX_ITER} (the plain sweep and one check) to ${MAX_MAX_ITER}, got ${value}`;
  }
  if (Number.isFinite(value) && value >= 0) return undefined;
  return `tol of region '${region}' must be a finite number >= 0, got ${value}`;
}
