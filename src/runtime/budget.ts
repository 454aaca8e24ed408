// The run-time budget on twnn's side (src/contract/budget.ts says what it is):
// what a caller sets (`--tol`, `--max-iter`, openSession's `budget`) resolved
// against the model's budget inputs, checked before onnxruntime sees it, and
// the feeds that carry it. A model exported before the budget was an input
// has none: setting a budget on it is an error saying to re-export.
import { TwnnError } from '../common/errors.js';
import { BUDGET_KEY, budgetFromMetadata, budgetProblem, type BudgetKind, type RegionBudget } from '../contract/budget.js';
import { Tensor } from '../ir/tensor.js';
import type { OnnxTypes } from '../onnx/proto.js';
import type { RegionLimits } from './guard.js';
import type { IoInfo } from './feeds.js';

/** A budget a caller sets: one tol / maxIter for every region, and per region values that win over them. */
export interface BudgetSetting {
  tol?: number;
  maxIter?: number;
  /** By region name: `{ region1: { maxIter: 5 } }`. */
  regions?: Readonly<Record<string, { tol?: number; maxIter?: number }>>;
}

/**
 * The budget inputs of a parsed model and their defaults (its `twnn.budget`
 * metadata); `[]` for a model without them.
 *
 * @example modelBudget(parseModel(bytes, 'model.onnx'), 'model.onnx') // [{ region: 'region1', tolInput: 'tol.region1', tol: 0.001, ... }]
 */
export function modelBudget(model: OnnxTypes.IModelProto, where: string): RegionBudget[] {
  return budgetFromMetadata((model.metadataProps ?? []).find((p) => p.key === BUDGET_KEY)?.value, where);
}

/**
 * Each region's budget once `setting` is applied to the model's defaults:
 * an error naming the region and the value for a bad one, for a region the
 * model does not have, and for any setting on a model without budget inputs.
 *
 * @example resolveBudget(modelBudget(proto, path), { maxIter: 5 }, path)[0].maxIter // 5
 */
export function resolveBudget(budget: readonly RegionBudget[], setting: BudgetSetting, where: string): RegionBudget[] {
  const named = Object.keys(setting.regions ?? {});
  const any = setting.tol !== undefined || setting.maxIter !== undefined || named.length > 0;
  if (any && budget.length === 0) {
    throw new TwnnError(
      `${where}: the model has no tol/maxIter inputs (exported before the budget was an input, or it has no fixed-point regions); ` +
        're-export it with twnn build (or twnn train) to set the budget at run time',
    );
  }
  const unknown = named.filter((r) => !budget.some((b) => b.region === r));
  if (unknown.length > 0) throw new TwnnError(`${where}: no region '${unknown[0]}' to set a budget for; its regions are ${budget.map((b) => `'${b.region}'`).join(', ')}`);
  return budget.map((b) => {
    const own = setting.regions?.[b.region] ?? {};
    const resolved = { ...b, tol: own.tol ?? setting.tol ?? b.tol, maxIter: own.maxIter ?? setting.maxIter ?? b.maxIter };
    checkBudgetValue(where, 'tol', b.region, resolved.tol);
    checkBudgetValue(where, 'max_iter', b.region, resolved.maxIter);
    return resolved;
  });
}

/**
 * The feeds that carry `budget`, in the dtypes the model's inputs declare,
 * for the inputs not already in `feeds`; a budget feed the caller gave is
 * checked like a set value.
 *
 * @example session.run({ x, ...budgetFeeds(budget, session.inputs, { x }, path) })
 */
export function budgetFeeds(budget: readonly RegionBudget[], inputs: readonly IoInfo[], feeds: Readonly<Record<string, Tensor>>, where: string): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const b of budget) {
    for (const [kind, name, value] of [['tol', b.tolInput, b.tol], ['max_iter', b.maxIterInput, b.maxIter]] as const) {
      const given = feeds[name];
      if (given) {
        if (given.size === 1) checkBudgetValue(where, kind, b.region, given.toNumbers()[0]);
        continue;
      }
      const type = inputs.find((i) => i.name === name)?.type;
      if (!type) continue;
      out[name] = Tensor.scalar(value, kind === 'max_iter' ? 'int64' : type === 'float64' ? 'float64' : 'float32');
    }
  }
  return out;
}

/**
 * The regions' limits as a run under `budget` has them, for the guard's
 * messages and its count of unsettled samples.
 *
 * @example limitsUnderBudget(regionLimits(proto), session.budget)
 */
export function limitsUnderBudget(regions: readonly RegionLimits[], budget: readonly RegionBudget[]): RegionLimits[] {
  return regions.map((r) => {
    const b = budget.find((x) => x.region === r.region);
    return b ? { ...r, tol: b.tol, maxIter: b.maxIter } : r;
  });
}

function checkBudgetValue(where: string, kind: BudgetKind, region: string, value: number): void {
  const problem = budgetProblem(kind, region, value);
  if (problem) throw new TwnnError(`${where}: ${problem}`);
}
