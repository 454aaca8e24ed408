// What a fixed-point region asks of its lowering (docs/DESIGN.md §1), as plain
// descriptions: the iterator's settings, the sweep it repeats, and what the
// lowering reports back. src/twnn describes a region through these types;
// src/lower/fixed-point.ts lowers it to ONNX Loops. The lowering reaches the
// build only through `RegionSweeps`, so neither layer imports the other's
// internals, and src/twnn imports nothing from src/lower.
import type { Graph, Value } from '../ir/index.js';
import type { Solver } from './solvers.js';

/** How a sample's residual is measured over all of its state tensors. */
export type ResidualNorm = 'max' | 'rms' | 'relative';

/** Which samples a Loop step sweeps: the unsettled ones (`active`), or the whole batch (`dense`). */
export type SweepMode = 'active' | 'dense';

/** A region's `compactBelow` when it sets none: every step gathers the rows still iterating (eager compaction). */
export const DEFAULT_COMPACT_BELOW = 1;

/**
 * What a region's settings are when its spec leaves them out (the paper's
 * Table II: tol 1e-3, maxIter 300). backwardTol, backwardMaxIter and
 * backwardSolver default to the forward ones.
 *
 * @example REGION_DEFAULTS.maxIter // 300
 */
export const REGION_DEFAULTS = {
  tol: 1e-3,
  maxIter: 300,
  minIter: 1,
  norm: 'max',
  solver: 'plain',
  returnIterate: 'best',
  onMaxIter: 'warn',
  backward: 'implicit',
  backwardNorm: 'relative',
  jacobianPenalty: 0,
  sweeps: 'active',
  compactBelow: DEFAULT_COMPACT_BELOW,
  /** A wormhole's gate bias: sigmoid(-4) ≈ 0.018, closed most of the time at the start. */
  gateBias: -4,
  projection: 'linear',
} as const;

export type { AndersonSettings, BroydenSettings, Solver, SolverKind } from './solvers.js';

/** How the region is differentiated. */
export type BackwardMode = { mode: 'implicit' } | { mode: 'unrolled' } | { mode: 'phantom'; k: number };

/** What `twnn run`/`eval`/`train` do about samples that reach maxIter unsettled. */
export type OnMaxIter = 'warn' | 'error';

/** A region's iterator, resolved: what its Loops compute and how they stop. */
export interface FixedPointConfig {
  region: string;
  tol: number;
  maxIter: number;
  minIter: number;
  norm: ResidualNorm;
  solver: Solver;
  /** What an unsettled sample returns: its best iterate (lowest residual) or its last. */
  returnIterate: 'best' | 'last';
  onMaxIter: OnMaxIter;
  backward: BackwardMode;
  backwardTol: number;
  backwardMaxIter: number;
  /** How the adjoint (and tangent) iteration's step is measured against backwardTol; `relative` is to the right-hand side ‖ḡ‖. */
  backwardNorm: ResidualNorm;
  backwardSolver: Solver;
  /** γ of the Jacobian penalty γ·‖∂F/∂S‖²_F/d added to the training loss (0: none). */
  jacobianPenalty: number;
  /** Which samples each Loop step sweeps. */
  sweeps: SweepMode;
  /** With active sweeps: the fraction of a working set's rows below which the rows still iterating are gathered anew (lazy compaction). */
  compactBelow: number;
  /** A contractive region's Lipschitz bound ρ < 1 on the sweep (src/twnn/contractive.ts); absent: unconstrained. */
  contractive?: number;
  /** Hoist loop invariants out of the Loop bodies (default true; a build override, to measure what it saves). */
  hoistInvariants?: boolean;
  wormholes: readonly { from: number; to: number; gateBias: number; projection: string }[];
  /** What each wormhole source state is (`B2.h`: block B2's output), to name the Loops' carried values. */
  stateNames?: readonly string[];
}

/** Region settings a build may override for every region (FixedPointConfig's names and types). */
export type RegionOverrides = Partial<Omit<FixedPointConfig, 'region' | 'wormholes' | 'contractive'>>;

/** One sweep's results: the new wormhole sources S_new, and the region output. */
export interface SweepResult {
  sources: Value[];
  output: Value;
  /** The skip gates ([B]) of the sweep's skip-gated blocks, in build order (inference graphs carry them through the Loop). */
  gates?: Value[];
}

/** One sweep: given the previous sources (undefined for the first, zero-state sweep), emit into the current graph. */
export type Sweep = (sOld: readonly Value[] | undefined) => SweepResult;

/**
 * What a fixed-point region reports about its iterator, so the graph builders
 * can expose `iterations`, `residual` (and, in training graphs,
 * `iterations_backward`) as outputs.
 */
export interface IteratorReport {
  /** Region name (dot-scoped), e.g. `region1`. */
  readonly region: string;
  /** Sweeps each sample ran: int64 [B]. */
  readonly iterations: Value;
  /** Final per-sample residual: [B] in the build dtype. */
  readonly residual: Value;
  /** bool [B]: samples that ran out of sweeps with a finite residual above tol. */
  readonly unsettled?: Value;
  /** Set by the region's VJP rule when a gradient graph differentiates it: int64 [B] or scalar. */
  backwardIterations?: Value;
  /**
   * Training graphs of a region with a Jacobian penalty: emits the penalty
   * (a scalar to add to the loss), its random probe drawn from the int64
   * scalar `key` (the step number), so each step probes anew, reproducibly.
   */
  readonly penalty?: (key: Value) => Value;
  /**
   * Training graphs with a fixed-point correction of n terms (src/lower/fp-correction.ts):
   * per term, the detached intermediate iterates S_{t_k} (no gradient flows into
   * them), set by the lowering; the correction's builds sweep from them.
   */
  correctionIterates?: readonly (readonly Value[])[];
  /** Inference graphs: the sweep's skip gates ([B], SweepResult.gates' order) at each sample's settling sweep. */
  readonly skipGates?: readonly Value[];
  /** The iterator configuration, for the manifest and metadata_props. */
  readonly config: Readonly<Record<string, unknown>>;
}

/**
 * The narrow interface a region's lowering builds through: the sweep, emitted
 * where the lowering asks, and the report it hands back. The first (S = 0)
 * sweep has run already, in `graph`, declaring the blocks' parameters; every
 * later sweep reuses them.
 */
export interface RegionSweeps {
  /** The graph the region builds into (the model's main graph). */
  readonly graph: Graph;
  /** Training graphs: the lowering differentiates the region and linearises it at S*. */
  readonly training: boolean;
  /** Training graphs with a fixed-point correction: how many intermediate iterates to report (`correctionIterates`); absent or 0 for none. */
  readonly correctionTerms?: number;
  /** The first sweep, from S = 0: exactly the plain feed-forward network. */
  readonly first: SweepResult;
  /** Emit the sweep at `sOld` into `into` (a Loop body, or `graph`) during the build. */
  sweep(sOld: readonly Value[], into: Graph): SweepResult;
  /** The same, from VJP and tangent rules that run after the build ended (the region's parameter scope is restored). */
  replay(sOld: readonly Value[], into: Graph): SweepResult;
  /** Register the region's iterator (its counts become graph outputs). */
  report(report: IteratorReport): void;
}

/**
 * Lowers one region: emits its fixed-point iteration into `sweeps.graph` and
 * returns the region output. twnn's graph builders supply
 * src/lower/fixed-point.ts's `lowerFixedPoint`.
 */
export type RegionLowering = (sweeps: RegionSweeps, config: FixedPointConfig) => Value;
