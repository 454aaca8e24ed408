// A fixed-point region (docs/DESIGN.md §1): blocks B_1..B_k run in order, wormholes
// j -> i feed block j's output from the previous sweep back into block i's
// input, and the sweep repeats until every sample's wormhole sources settle.
import { SpecError, type Value } from '../ir/index.js';
import { add } from '../ops/index.js';
import { REGION_DEFAULTS as D, type BackwardMode, type FixedPointConfig, type ResidualNorm, type Sweep } from './iterator.js';
import type { Module } from './module.js';
import { checkOptions, type KeysOf } from './options.js';
import { contractiveTarget, resolveContractive, wormholeBudget, type ContractiveSpec } from './contractive.js';
import { lowerRegion } from './region-sweeps.js';
import { isModule } from './sequential.js';
import { resolveSolver, SOLVER_KINDS, SOLVER_OPTION_KEYS, type Solver, type SolverKind, type SolverOptions } from './solvers.js';
import { finite, positiveInt } from './validate.js';
import { wormholeTerm, type ResolvedWormhole } from './wormhole.js';

/** A wormhole `from -> to`: block `from`'s output of the previous sweep joins block `to`'s input. */
export interface WormholeSpec {
  /** Source block: a 1-based position, or the block's name when blocks are named. */
  from: number | string;
  /** Target block (at or before `from`). */
  to: number | string;
  /** Initial gate bias c (default −4: closed, g ≈ 0.018). */
  gateBias?: number;
  /** `linear` (default): a learned projection without bias; `identity` where shapes match. */
  projection?: 'linear' | 'identity';
}

/** When the iterator stops (paper Eq. 3, Table II), and how each step moves (with SolverOptions: src/twnn/solvers.ts). */
export interface IterateSpec extends SolverOptions {
  /** Per-sample residual tolerance (default 1e-3). */
  tol?: number;
  /** Most sweeps per sample, the first (plain) sweep included (default 300, at least 2). */
  maxIter?: number;
  /** Fewest sweeps before a sample may settle (default 1; benchmarks force sweeps with it). */
  minIter?: number;
  /** `max` (default) |ΔS|∞, `rms`, or `relative` ‖ΔS‖₂/‖S‖₂, per sample. */
  norm?: ResidualNorm;
  /**
   * `plain` (default, the paper's): S ← F(S). `anderson`: Anderson acceleration;
   * `broyden`: limited-memory Broyden (a quasi-Newton step with a low-rank
   * inverse Jacobian); both per sample inside the Loop (fewer sweeps for
   * slowly contracting regions).
   */
  solver?: SolverKind;
  /** What a sample that reaches maxIter unsettled returns: `best` (default), the iterate with the lowest residual, or `last`. */
  returnIterate?: 'best' | 'last';
  /** What `twnn run`, `eval` and `train` do about such samples: `warn` (default: count and name them) or `error`. */
  onMaxIter?: 'warn' | 'error';
}

export interface RegionSpec {
  /** The blocks, in order: an array (scoped `b1`, `b2`, ...) or an object of named blocks. */
  blocks: readonly Module[] | Readonly<Record<string, Module>>;
  wormholes: readonly WormholeSpec[];
  iterate?: IterateSpec;
  /** `implicit` (default), `unrolled`, or `phantom:k`. */
  backward?: 'implicit' | 'unrolled' | `phantom:${number}`;
  /** Adjoint (and tangent) tolerance (default: the forward tol). */
  backwardTol?: number;
  /**
   * How the adjoint's per-sample step is measured against `backwardTol`:
   * `relative` (default, docs/DESIGN.md §2: ‖Δw‖₂ <= backwardTol·‖ḡ‖₂, ḡ the loss
   * gradient at S*), or the absolute `max` (max |Δw|) and `rms`. The adjoint is
   * linear in ḡ, whose size follows the loss (a batch-mean loss gives
   * per-sample gradients of order 1/B), so an absolute tolerance can stop it
   * after one step — a truncated series, not the implicit gradient; `relative`
   * stops at the same precision at any scale. (For the truncated series on
   * purpose, say so: `backward: 'phantom:k'`.)
   */
  backwardNorm?: ResidualNorm;
  /** Most adjoint iterations (default: the forward maxIter). */
  backwardMaxIter?: number;
  /** The adjoint's (and tangent's) solver, with iterate's history, mixing and regularization (default: iterate.solver). */
  backwardSolver?: SolverKind;
  /**
   * γ > 0 adds the Jacobian penalty γ·‖∂F/∂S‖²_F/d (Bai et al. 2021; Hutchinson
   * estimate with one Rademacher probe per step) to the training loss of
   * train.onnx / train_steps.onnx, keeping the sweep contractive (default 0: none).
   * Needs backward `implicit` or `phantom:k`.
   */
  jacobianPenalty?: number;
  /**
   * Which samples each step of the region's Loops (forward, adjoint, tangent)
   * computes: `active` (default) only those still iterating, so a batch costs
   * the sum of its samples' sweeps; `dense` the whole batch, freezing the
   * settled ones (fewer ops per step: faster for tiny batches or on a GPU).
   * Same numbers either way.
   */
  sweeps?: 'active' | 'dense';
  /**
   * With `active` sweeps: when the Loops gather the rows still iterating.
   * 1 (default): every step sweeps exactly those rows, gathered and written
   * back each step (best for short loops, a few steps per sample). Below 1
   * (lazy compaction): each Loop sweeps a working set, freezing the rows that
   * settle in it, and gathers a new one only when fewer than this fraction of
   * its rows still iterate: a few gathers per Loop instead of one per step,
   * for up to 1/compactBelow times the rows' work (best for long-tailed
   * loops: the TWNN ResNets declare 0.9). 0 never gathers after the first
   * step. Same numbers at any value.
   */
  compactBelow?: number;
  /**
   * Make the sweep a contraction in the state by construction: `true` (bound
   * 0.9) or `{ bound: ρ }`, 0 < ρ < 1. Each wormhole's projection is scaled,
   * from the current weights on every sweep, so that Lip(S ↦ F(S)) ≤ ρ; its
   * gate reads the block input alone. Then the fixed point is unique and plain
   * iteration reaches it. Every wormhole must enter the same block, and the
   * blocks on the looped path must have Lipschitz bounds: dense, conv2d,
   * relu/tanh/sigmoid/leakyRelu, sequential, basicBlock with `norm: 'none'`
   * (no normalisation layers, no skip gates). src/twnn/contractive.ts derives it.
   */
  contractive?: boolean | ContractiveSpec;
}

const REGION_KEYS: KeysOf<RegionSpec> = {
  blocks: true, wormholes: true, iterate: true, backward: true, backwardTol: true, backwardNorm: true, backwardMaxIter: true,
  backwardSolver: true, jacobianPenalty: true, sweeps: true, compactBelow: true, contractive: true,
};
const ITERATE_KEYS: KeysOf<IterateSpec> = {
  tol: true, maxIter: true, minIter: true, norm: true, solver: true, ...SOLVER_OPTION_KEYS, returnIterate: true, onMaxIter: true,
};
const WORMHOLE_KEYS: KeysOf<WormholeSpec> = { from: true, to: true, gateBias: true, projection: true };

/**
 * The most sweeps a region may allow: iteration counts are int64 in the graph, but a fixed point
 * that has not settled after two billion sweeps will not, and a value like 1e300 would wrap the trip count.
 */
const MAX_ITER_LIMIT = 2 ** 31 - 1;

/** The region as a module, with its resolved configuration readable. */
export interface RegionModule extends Module {
  readonly kind: 'region';
  readonly blockNames: readonly string[];
  readonly wormholes: readonly ResolvedWormhole[];
  readonly config: Omit<FixedPointConfig, 'region' | 'wormholes'>;
}

/**
 * A fixed-point region: the blocks iterate, with wormholes from later blocks
 * into earlier ones, until each sample's wormhole sources settle. Lowered to
 * one ONNX `Loop` with per-sample convergence; differentiated by an adjoint
 * fixed point (implicit, default), exact unrolling, or phantom gradients.
 *
 * @example
 * const r = region({
 *   blocks: [sequential(dense(64, 64), tanh()), sequential(dense(64, 64), tanh()), sequential(dense(64, 64), tanh())],
 *   wormholes: [{ from: 3, to: 1 }],
 *   iterate: { tol: 1e-3, maxIter: 300 },
 * });
 */
export function region(spec: RegionSpec): RegionModule {
  if (typeof spec !== 'object' || spec === null) throw new SpecError('region: expects an object');
  checkOptions('region', spec, REGION_KEYS);
  checkOptions('region: iterate', spec.iterate, ITERATE_KEYS);
  const { names, modules } = resolveBlocks(spec.blocks);
  const where = (name: string) => `region '${name}'`;
  if (!Array.isArray(spec.wormholes)) throw new SpecError('region: wormholes must be an array (possibly empty)');
  const wormholes = spec.wormholes.map((w, n) => resolveWormhole(w, n, names));
  const seen = new Map<string, ResolvedWormhole>();
  for (const w of wormholes) {
    const twin = seen.get(w.scopeName);
    if (twin && twin.from === w.from && twin.to === w.to) throw new SpecError(`region: wormhole ${w.from} -> ${w.to} is given twice`);
    // Block names with underscores can spell one scope two ways (a_b -> c, a -> b_c).
    if (twin) throw new SpecError(`region: wormholes ${twin.from} -> ${twin.to} and ${w.from} -> ${w.to} would both be named '${w.scopeName}'; rename a block`);
    seen.set(w.scopeName, w);
  }
  const config = resolveConfig(spec);
  // Each distinct source block contributes one carried state tensor, in block order.
  const sourceBlocks = [...new Set(wormholes.map((w) => w.from))].sort((a, b) => a - b);
  const target = config.contractive !== undefined && wormholes.length > 0 ? contractiveTarget(wormholes) : undefined;

  return {
    kind: 'region',
    blockNames: names,
    wormholes,
    config,
    build(ctx, a) {
      const regionName = ctx.scopeName || 'region';
      if (sourceBlocks.length === 0) throw new SpecError(`${where(regionName)}: has no wormholes; use sequential(...) for a plain stack`);
      const sweep: Sweep = (sOld) => {
        const gatesBefore = ctx.skipGates.length;
        let h = a;
        const outputs: Value[] = [];
        const budget =
          sOld && target !== undefined
            ? wormholeBudget(ctx, { region: regionName, bound: config.contractive!, names, modules, target, sources: sourceBlocks, wormholes: wormholes.length })
            : undefined;
        modules.forEach((block, k) => {
          const i = k + 1;
          let u = h;
          if (sOld) {
            for (const w of wormholes.filter((q) => q.to === i)) {
              u = add(ctx.graph, u, wormholeTerm(ctx, h, sOld[sourceBlocks.indexOf(w.from)], w, regionName, budget));
            }
          }
          h = ctx.scope(names[k], () => block.build(ctx, u));
          outputs.push(h);
        });
        const gates = ctx.skipGates.slice(gatesBefore).map((r) => r.gate);
        return { sources: sourceBlocks.map((j) => outputs[j - 1]), output: h, ...(gates.length > 0 ? { gates } : {}) };
      };
      return lowerRegion(ctx, sweep, {
        ...config,
        ...ctx.regionOverrides,
        // The construction is the spec's; no override may relabel it.
        ...(config.contractive === undefined ? {} : { contractive: config.contractive }),
        region: regionName,
        wormholes: wormholes.map((w) => ({ from: w.from, to: w.to, gateBias: w.gateBias, projection: w.projection })),
        stateNames: sourceBlocks.map((j) => `${names[j - 1]}.h`),
      });
    },
  };
}

function resolveBlocks(blocks: RegionSpec['blocks']): { names: string[]; modules: Module[] } {
  const entries: [string, unknown][] = Array.isArray(blocks)
    ? blocks.map((m, i) => [`b${i + 1}`, m])
    : typeof blocks === 'object' && blocks !== null
      ? Object.entries(blocks)
      : [];
  if (entries.length === 0) throw new SpecError('region: blocks must be a non-empty array or object of modules');
  for (const [name, m] of entries) if (!isModule(m)) throw new SpecError(`region: block '${name}' is not a module`);
  return { names: entries.map(([n]) => n), modules: entries.map(([, m]) => m as Module) };
}

function resolveWormhole(w: WormholeSpec, n: number, names: readonly string[]): ResolvedWormhole {
  const label = `region: wormhole #${n + 1}`;
  if (typeof w !== 'object' || w === null) throw new SpecError(`${label} must be an object { from, to }`);
  checkOptions(label, w, WORMHOLE_KEYS);
  const position = (end: 'from' | 'to'): number => {
    const v = w[end];
    if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= names.length) return v;
    if (typeof v === 'string' && names.includes(v)) return names.indexOf(v) + 1;
    throw new SpecError(`${label}: '${end}' ${JSON.stringify(v)} names no block (blocks: ${names.map((b, i) => `${i + 1}=${b}`).join(', ')})`);
  };
  const from = position('from');
  const to = position('to');
  if (from < to) throw new SpecError(`${label}: ${from} -> ${to} points forward; a wormhole feeds a later block back into an earlier one (from >= to)`);
  const gateBias = w.gateBias === undefined ? D.gateBias : finite('region', `wormhole ${from} -> ${to} gateBias`, w.gateBias);
  const projection = w.projection ?? D.projection;
  if (projection !== 'linear' && projection !== 'identity') throw new SpecError(`${label}: projection must be 'linear' or 'identity', got ${JSON.stringify(projection)}`);
  return { from, to, gateBias, projection, scopeName: `wormhole_${names[from - 1]}_${names[to - 1]}`, formerScopeName: `wormhole_${from}_${to}` };
}

function resolveConfig(spec: RegionSpec): RegionModule['config'] {
  const it = spec.iterate ?? {};
  const tol = it.tol === undefined ? D.tol : finite('region', 'iterate.tol', it.tol, { atLeast: 0 });
  const maxIter = it.maxIter === undefined ? D.maxIter : sweepCount('iterate.maxIter', it.maxIter);
  if (maxIter < 2) throw new SpecError(`region: iterate.maxIter must be at least 2 (the plain sweep and one check), got ${maxIter}`);
  const minIter = it.minIter === undefined ? D.minIter : sweepCount('iterate.minIter', it.minIter);
  if (minIter > maxIter) throw new SpecError(`region: iterate.minIter ${minIter} exceeds maxIter ${maxIter}`);
  const norm = residualNormOf('iterate.norm', it.norm);
  const solver = solverOf('iterate.solver', it.solver ?? D.solver, it);
  const returnIterate = oneOf('iterate.returnIterate', it.returnIterate ?? D.returnIterate, ['best', 'last'] as const);
  const onMaxIter = oneOf('iterate.onMaxIter', it.onMaxIter ?? D.onMaxIter, ['warn', 'error'] as const);
  const backward = parseBackward(spec.backward ?? D.backward);
  const backwardTol = spec.backwardTol === undefined ? tol : finite('region', 'backwardTol', spec.backwardTol, { atLeast: 0 });
  const backwardMaxIter = spec.backwardMaxIter === undefined ? maxIter : sweepCount('backwardMaxIter', spec.backwardMaxIter);
  const backwardNorm = spec.backwardNorm === undefined ? D.backwardNorm : residualNormOf('backwardNorm', spec.backwardNorm);
  const backwardSolver = spec.backwardSolver === undefined ? solver : solverOf('backwardSolver', spec.backwardSolver, it);
  const jacobianPenalty = spec.jacobianPenalty === undefined ? D.jacobianPenalty : finite('region', 'jacobianPenalty', spec.jacobianPenalty, { atLeast: 0 });
  // The penalty is built at the linearisation point S* that implicit and phantom:k share (src/lower/adjoint.ts);
  // the unrolled lowering has none, and would train as if the penalty were absent.
  if (jacobianPenalty > 0 && backward.mode === 'unrolled') {
    throw new SpecError(`region: jacobianPenalty ${jacobianPenalty} needs backward 'implicit' or 'phantom:k' (it is taken at the fixed point's linearisation), got backward 'unrolled'`);
  }
  const sweeps = oneOf('sweeps', spec.sweeps ?? D.sweeps, ['active', 'dense'] as const);
  const compactBelow = spec.compactBelow === undefined ? D.compactBelow : finite('region', 'compactBelow', spec.compactBelow, { atLeast: 0, atMost: 1 });
  const contractive = resolveContractive(spec.contractive);
  return {
    tol, maxIter, minIter, norm, solver, returnIterate, onMaxIter, backward, backwardTol, backwardMaxIter, backwardNorm, backwardSolver, jacobianPenalty, sweeps, compactBelow,
    ...(contractive === undefined ? {} : { contractive }),
  };
}

function sweepCount(field: string, value: unknown): number {
  const n = positiveInt('region', field, value);
  if (n > MAX_ITER_LIMIT) throw new SpecError(`region: ${field} must be at most ${MAX_ITER_LIMIT} (2^31 - 1), got ${n}`);
  return n;
}

function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) throw new SpecError(`region: ${field} must be ${allowed.map((a) => `'${a}'`).join(' or ')}, got ${JSON.stringify(value)}`);
  return value as T;
}

function solverOf(field: string, kind: unknown, it: IterateSpec): Solver {
  return resolveSolver(oneOf(field, kind, SOLVER_KINDS), it);
}

function residualNormOf(field: string, norm: ResidualNorm | undefined): ResidualNorm {
  if (norm === undefined) return D.norm;
  if (!['max', 'rms', 'relative'].includes(norm)) throw new SpecError(`region: ${field} must be 'max', 'rms' or 'relative', got ${JSON.stringify(norm)}`);
  return norm;
}

/**
 * Parse a backward mode: `implicit`, `unrolled`, or `phantom:k` (k ≥ 1 terms
 * of the adjoint's Neumann series; k = 1 is Jacobian-free backprop).
 *
 * @example parseBackward('phantom:5') // { mode: 'phantom', k: 5 }
 */
export function parseBackward(text: string): BackwardMode {
  if (text === 'implicit' || text === 'unrolled') return { mode: text };
  const m = /^phantom:(\d+)$/.exec(String(text));
  if (m && Number(m[1]) >= 1) return { mode: 'phantom', k: Number(m[1]) };
  throw new SpecError(`region: backward must be 'implicit', 'unrolled' or 'phantom:k' (k >= 1), got ${JSON.stringify(text)}`);
}
