// The iterator record: what an exported model says about each fixed-point
// Loop it holds. lower writes it as JSON into metadata_props
// (`twnn.loop:<Loop node>`) and the manifest's `iterators`; the runtime's
// guards, inspect, codegen and the benchmarks read it back here, typed, and
// this is the one place that knows the forms older exports wrote.
import type { FixedPointConfig, OnMaxIter, ResidualNorm, Solver, SweepMode } from '../twnn/iterator.js';

/** metadata_props key prefix of a Loop's record: `twnn.loop:<Loop node name>`. */
export const LOOP_METADATA_PREFIX = 'twnn.loop:';

/** A wormhole as the record lists it: block `from`'s output feeds block `to`'s input on the next sweep. */
export interface WormholeRecord {
  from: number;
  to: number;
  gateBias?: number;
  projection?: string;
}

/**
 * How a region iterates and is differentiated, as `encodeIteratorSettings`
 * writes it. A solver's own settings follow its name, unprefixed for the
 * forward solver (`history`, `mixing`, ...) and prefixed for the backward one
 * (`backwardHistory`, ...).
 */
export interface IteratorSettingsRecord {
  tol: number;
  maxIter: number;
  minIter: number;
  norm: ResidualNorm;
  solver: Solver['kind'];
  returnIterate: 'best' | 'last';
  onMaxIter: OnMaxIter;
  wormholes: WormholeRecord[];
  /** `implicit`, `unrolled` or `phantom:k`. */
  backward: string;
  backwardTol: number;
  backwardMaxIter: number;
  backwardNorm: ResidualNorm;
  backwardSolver: Solver['kind'];
  jacobianPenalty: number;
  sweeps: SweepMode;
  compactBelow: number;
  /** A contractive region's bound ρ on the sweep's Lipschitz constant; absent when unconstrained. */
  contractive?: number;
  /** The solvers' own settings (`history`, `backwardMixing`, ...). */
  [solverSetting: string]: unknown;
}

/** A region's forward iterator (`<region>/iterate`), as read back: fields older exports lacked are filled with what those exports did. */
export interface IteratorRecord {
  role: 'iterate';
  region: string;
  /** The Loop node's name; '' where a manifest entry predates it. */
  node: string;
  tol: number;
  maxIter: number;
  minIter: number;
  norm: ResidualNorm | string;
  solver: string;
  /** 'last' where the record predates best iterates. */
  returnIterate: 'best' | 'last';
  /** 'warn' where the record predates the option. */
  onMaxIter: OnMaxIter;
  wormholes: WormholeRecord[];
  /** `implicit`, `unrolled`, `phantom:k`; undefined where not recorded. */
  backward?: string;
  backwardTol?: number;
  backwardMaxIter?: number;
  backwardNorm?: string;
  /** 'dense' where the record predates active sweeps. */
  sweeps: SweepMode;
  /** A contractive region's bound ρ (src/twnn/contractive.ts); undefined when unconstrained. */
  contractive?: number;
  /** Every field as written, unknown ones included (inspect --json shows them). */
  raw: Readonly<Record<string, unknown>>;
}

/** Any twnn Loop's record (adjoint, tangent, phantom, working set, train_steps ...): its role and region, and the rest as written. */
export interface LoopRecord {
  role: string;
  region?: string;
  raw: Readonly<Record<string, unknown>>;
}

/**
 * `implicit`, `unrolled` or `phantom:k`, as written in configs and records.
 *
 * @example backwardLabel({ mode: 'phantom', k: 5 }) // 'phantom:5'
 */
export function backwardLabel(b: FixedPointConfig['backward']): string {
  return b.mode === 'phantom' ? `phantom:${b.k}` : b.mode;
}

/**
 * A solver as record fields: its name under `solver` (`backwardSolver` with
 * the prefix `backward`), then each of its settings, prefixed the same way.
 *
 * @example solverFields({ kind: 'anderson', history: 5, mixing: 1, regularization: 1e-8 }, 'backward') // { backwardSolver: 'anderson', backwardHistory: 5, ... }
 */
export function solverFields(s: Solver, prefix = ''): Record<string, unknown> {
  const key = (k: string) => (prefix ? `${prefix}${k[0].toUpperCase()}${k.slice(1)}` : k);
  const { kind, ...settings } = s;
  return { [key('solver')]: kind, ...Object.fromEntries(Object.entries(settings).map(([k, v]) => [key(k), v])) };
}

/**
 * The record of a region's settings, in the order exports write it.
 *
 * @example encodeIteratorSettings(config).tol // 0.001
 */
export function encodeIteratorSettings(config: FixedPointConfig): IteratorSettingsRecord {
  return {
    tol: config.tol,
    maxIter: config.maxIter,
    minIter: config.minIter,
    norm: config.norm,
    ...(solverFields(config.solver) as { solver: Solver['kind'] }),
    returnIterate: config.returnIterate,
    onMaxIter: config.onMaxIter,
    wormholes: config.wormholes.map((w) => ({ ...w })),
    backward: backwardLabel(config.backward),
    backwardTol: config.backwardTol,
    backwardMaxIter: config.backwardMaxIter,
    backwardNorm: config.backwardNorm,
    ...(solverFields(config.backwardSolver, 'backward') as { backwardSolver: Solver['kind'] }),
    jacobianPenalty: config.jacobianPenalty,
    sweeps: config.sweeps,
    compactBelow: config.compactBelow,
    // Only where set, so every other export's record (and bytes) stays as it was.
    ...(config.contractive === undefined ? {} : { contractive: config.contractive }),
  };
}

/**
 * A Loop record read back from JSON (a metadata value) or an already parsed
 * object (a manifest entry); undefined for anything that is not one: not an
 * object, or without a role. Older exports' forms are read as what they
 * meant: `forward` (before the Loops were named by role) and no role at all
 * (the first exports) are `iterate`.
 *
 * @example decodeLoopRecord('{"role":"iterate","region":"region1","tol":0.001,"maxIter":300}')?.role // 'iterate'
 */
export function decodeLoopRecord(value: unknown): IteratorRecord | LoopRecord | undefined {
  let r: Record<string, unknown>;
  try {
    r = typeof value === 'string' ? loopRecordObject(value) : asObject(value);
  } catch {
    return undefined;
  }
  // The first exports wrote a region's iterator without a role.
  if (r.role === undefined && typeof r.tol === 'number' && typeof r.maxIter === 'number') return decodeIterator(r);
  if (typeof r.role !== 'string') return undefined;
  if (r.role === 'iterate' || r.role === 'forward') return decodeIterator(r);
  return { role: r.role, ...(typeof r.region === 'string' ? { region: r.region } : {}), raw: r };
}

/**
 * A `twnn.loop:` metadata value as the JSON object it should be; an Error
 * saying what it is instead (inspect reports it beside the Loop).
 *
 * @example loopRecordObject('{"role":"iterate"}').role // 'iterate'
 */
export function loopRecordObject(json: string): Record<string, unknown> {
  return asObject(JSON.parse(json) as unknown);
}

function asObject(v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
  return v as Record<string, unknown>;
}

/**
 * Whether a decoded record is a region's forward iterator.
 *
 * @example loopRecordsOf(model).filter(isIteratorRecord)
 */
export function isIteratorRecord(r: IteratorRecord | LoopRecord | undefined): r is IteratorRecord {
  return r !== undefined && r.role === 'iterate' && 'tol' in r;
}

/**
 * The forward iterators among records (a manifest's `iterators`, or
 * metadata values), decoded; the rest, and records without a region, tol or
 * maxIter, are skipped: a foreign model has none.
 *
 * @example iteratorRecords(manifest.iterators).map((r) => r.region) // ['region1']
 */
export function iteratorRecords(values: readonly unknown[]): IteratorRecord[] {
  return values.map(decodeLoopRecord).filter(isIteratorRecord);
}

/**
 * Every `twnn.loop:` record of a model's metadata, by Loop node name, in
 * metadata order; values that are not twnn's JSON are left out.
 *
 * @example loopRecordsOf(model.metadataProps).get('region1/iterate')?.role // 'iterate'
 */
export function loopRecordsOf(metadata: readonly { key?: string | null; value?: string | null }[] | null | undefined): Map<string, IteratorRecord | LoopRecord> {
  const out = new Map<string, IteratorRecord | LoopRecord>();
  for (const p of metadata ?? []) {
    if (!p.key?.startsWith(LOOP_METADATA_PREFIX)) continue;
    const record = decodeLoopRecord(p.value ?? '');
    if (record) out.set(p.key.slice(LOOP_METADATA_PREFIX.length), record);
  }
  return out;
}

function decodeIterator(r: Record<string, unknown>): IteratorRecord | LoopRecord {
  const { tol, maxIter } = r;
  // The first exports named a region's Loop but not its region.
  const region = typeof r.region === 'string' ? r.region : typeof r.node === 'string' ? r.node : undefined;
  if (region === undefined || typeof tol !== 'number' || typeof maxIter !== 'number') return { role: 'iterate', raw: r };
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const wormholes = Array.isArray(r.wormholes) ? (r.wormholes as unknown[]) : [];
  return {
    role: 'iterate',
    region,
    node: str(r.node) ?? '',
    tol,
    maxIter,
    minIter: num(r.minIter) ?? 1,
    norm: str(r.norm) ?? 'max',
    solver: str(r.solver) ?? 'plain',
    returnIterate: r.returnIterate === 'best' ? 'best' : 'last',
    onMaxIter: r.onMaxIter === 'error' ? 'error' : 'warn',
    wormholes: wormholes.flatMap((w): WormholeRecord[] => {
      if (typeof w !== 'object' || w === null) return [];
      const { from, to, gateBias, projection } = w as Record<string, unknown>;
      if (typeof from !== 'number' || typeof to !== 'number') return [];
      return [{ from, to, ...(typeof gateBias === 'number' ? { gateBias } : {}), ...(typeof projection === 'string' ? { projection } : {}) }];
    }),
    ...optional('backward', str(r.backward)),
    ...optional('backwardTol', num(r.backwardTol)),
    ...optional('backwardMaxIter', num(r.backwardMaxIter)),
    ...optional('backwardNorm', str(r.backwardNorm)),
    sweeps: r.sweeps === 'active' ? 'active' : 'dense',
    ...optional('contractive', num(r.contractive)),
    raw: r,
  };
}

function optional<K extends string, V>(key: K, value: V | undefined): { [k in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [k in K]?: V };
}
