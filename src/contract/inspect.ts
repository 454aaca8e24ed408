// `twnn inspect`: a summary of any .onnx model (twnn's or foreign), as data and as aligned text.
import { oneLine, onnxDTypeName, printable } from '../ir/index.js';
import { onnx, toNumber, type OnnxTypes } from '../onnx/proto.js';
import { LOOP_METADATA_PREFIX, loopRecordObject, type WormholeRecord } from './iterator-record.js';

/** A graph input or output: dims are numbers, dim_param names, or '?'; shape is null when the rank is unknown. */
export interface InspectValue {
  name: string;
  dtype: string;
  shape: (number | string)[] | null;
}

/** A wormhole as twnn records it in a Loop's config: block `from`'s output feeds block `to`'s input. */
export type InspectWormhole = WormholeRecord;

/** The iterator config twnn stores as JSON in metadata_props under `twnn.loop:<Loop node name>`. */
export interface LoopConfig {
  region?: string;
  tol?: number;
  maxIter?: number;
  norm?: string;
  wormholes?: InspectWormhole[];
  backward?: string;
  [key: string]: unknown;
}

export interface InspectLoop {
  name: string;
  /** Names of the enclosing control-flow nodes, outermost first. */
  path: string[];
  /** Number of enclosing control-flow nodes (0: in the main graph). */
  depth: number;
  /** Nodes directly in the body. */
  bodyNodes: number;
  /** Nodes in the body including nested subgraphs. */
  bodyNodesTotal: number;
  /** The trip count M where it is an initializer or Constant; null when absent or computed. */
  tripCount: number | null;
  /**
   * What bounds the Loop: a `constant` trip count; one computed at `run time`;
   * `none` (M omitted: only its condition stops it); or a constant so `huge`
   * (2^31 or more) that it bounds nothing. The last two are flagged.
   */
  bound: 'constant' | 'run time' | 'none' | 'huge';
  /** Loop-carried values (inputs after M and cond). */
  carried: number;
  /** twnn's iterator config, when the model's metadata has one for this node. */
  config?: LoopConfig;
  /** Why a `twnn.loop:` entry could not be read. */
  configError?: string;
}

/** Everything `twnn inspect` reports; `--json` prints this object. */
export interface InspectReport {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  producer: { name: string; version: string };
  graphName: string;
  /** The model's doc_string. */
  docString: string;
  /** The main graph's doc_string. */
  graphDocString: string;
  inputs: InspectValue[];
  outputs: InspectValue[];
  /** Op counts over all nodes, subgraphs included; by count descending, then name. */
  ops: { op: string; count: number }[];
  nodeCount: number;
  loops: InspectLoop[];
  ifCount: number;
  /** Total elements of floating-point initializers, in every graph. */
  parameters: number;
  initializers: number;
  metadata: { key: string; value: string }[];
}

const FLOAT_CODES = new Set([
  onnx.TensorProto.DataType.FLOAT, onnx.TensorProto.DataType.DOUBLE,
  onnx.TensorProto.DataType.FLOAT16, onnx.TensorProto.DataType.BFLOAT16,
]);

/**
 * Summarise a model: opsets, producer, I/O types, op histogram over every
 * graph, Loops with their nesting, trip count and twnn iterator config, If
 * count, parameter count and metadata. Works on any model that parses.
 *
 * @example
 * const report = inspectModel(await readModelFile('exported/sine/model.onnx'));
 * report.loops[0].config?.tol // 0.001
 */
export function inspectModel(model: OnnxTypes.IModelProto): InspectReport {
  const main = model.graph ?? {};
  const metadata = (model.metadataProps ?? []).map((p) => ({ key: p.key ?? '', value: p.value ?? '' }));
  const configs = new Map(metadata.filter((m) => m.key.startsWith(LOOP_METADATA_PREFIX)).map((m) => [m.key.slice(LOOP_METADATA_PREFIX.length), m.value]));

  const counts = new Map<string, number>();
  const loops: InspectLoop[] = [];
  let ifCount = 0;
  let parameters = 0;
  let initializers = 0;

  // `visible` holds the constants (initializers, Constant outputs) an enclosed node can read: trip counts are looked up there.
  const walk = (g: OnnxTypes.IGraphProto, path: string[], outer: Map<string, number>) => {
    const visible = new Map(outer);
    for (const t of g.initializer ?? []) {
      initializers++;
      const n = (t.dims ?? []).reduce<number>((a, d) => a * toNumber(d), 1);
      if (FLOAT_CODES.has(t.dataType ?? 0)) parameters += n;
      const scalar = scalarOf(t);
      if (scalar !== undefined) visible.set(t.name ?? '', scalar);
    }
    for (const n of g.node ?? []) {
      const op = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}::${n.opType}` : n.opType ?? '';
      counts.set(op, (counts.get(op) ?? 0) + 1);
      const isDefault = !n.domain || n.domain === 'ai.onnx';
      if (isDefault && n.opType === 'Constant') {
        const value = constantScalar(n);
        if (value !== undefined && n.output?.[0]) visible.set(n.output[0], value);
      }
      if (isDefault && n.opType === 'If') ifCount++;
      if (isDefault && n.opType === 'Loop') loops.push(describeLoop(n, path, visible, configs));
      for (const a of n.attribute ?? []) {
        for (const sub of [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]) walk(sub, [...path, n.name ?? ''], visible);
      }
    }
  };
  walk(main, [], new Map());

  const initializerNames = new Set((main.initializer ?? []).map((t) => t.name ?? ''));
  return {
    irVersion: toNumber(model.irVersion),
    opsets: (model.opsetImport ?? []).map((o) => ({ domain: o.domain || 'ai.onnx', version: toNumber(o.version) })),
    producer: { name: model.producerName ?? '', version: model.producerVersion ?? '' },
    graphName: main.name ?? '',
    docString: model.docString ?? '',
    graphDocString: main.docString ?? '',
    // Before IR 4 initializers were listed as inputs too; they are parameters, not inputs.
    inputs: (main.input ?? []).filter((v) => !initializerNames.has(v.name ?? '')).map(describeValue),
    outputs: (main.output ?? []).map(describeValue),
    ops: [...counts].map(([op, count]) => ({ op, count })).sort((a, b) => b.count - a.count || (a.op < b.op ? -1 : a.op > b.op ? 1 : 0)),
    nodeCount: [...counts.values()].reduce((a, b) => a + b, 0),
    loops,
    ifCount,
    parameters,
    initializers,
    metadata,
  };
}

/** A trip count this large bounds nothing in practice: 2^31 sweeps of even a tiny body take days. */
const HUGE_TRIP_COUNT = 2 ** 31;

function describeLoop(
  n: OnnxTypes.INodeProto,
  path: string[],
  visible: ReadonlyMap<string, number>,
  configs: ReadonlyMap<string, string>,
): InspectLoop {
  const body = (n.attribute ?? []).find((a) => a.name === 'body')?.g ?? {};
  const m = n.input?.[0] ?? '';
  const loop: InspectLoop = {
    name: n.name ?? '',
    path,
    depth: path.length,
    bodyNodes: (body.node ?? []).length,
    bodyNodesTotal: countNodes(body),
    tripCount: m ? visible.get(m) ?? null : null,
    bound: 'constant',
    carried: Math.max(0, (n.input ?? []).length - 2),
  };
  loop.bound = !m ? 'none' : loop.tripCount === null ? 'run time' : loop.tripCount >= HUGE_TRIP_COUNT ? 'huge' : 'constant';
  const raw = configs.get(loop.name);
  if (raw !== undefined) {
    try {
      loop.config = loopRecordObject(raw) as LoopConfig;
    } catch (err) {
      loop.configError = `metadata '${LOOP_METADATA_PREFIX}${loop.name}' is not a JSON object: ${(err as Error).message}`;
    }
  }
  return loop;
}

function countNodes(g: OnnxTypes.IGraphProto): number {
  let total = 0;
  for (const n of g.node ?? []) {
    total++;
    for (const a of n.attribute ?? []) for (const sub of [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]) total += countNodes(sub);
  }
  return total;
}

function describeValue(v: OnnxTypes.IValueInfoProto): InspectValue {
  const t = v.type ?? {};
  return { name: v.name ?? '', ...describeType(t) };
}

function describeType(t: OnnxTypes.ITypeProto): { dtype: string; shape: (number | string)[] | null } {
  if (t.tensorType) {
    const shape = t.tensorType.shape
      ? (t.tensorType.shape.dim ?? []).map((d): number | string =>
          // Own properties only: a decoded message inherits dimValue 0 and dimParam '' as defaults.
          Object.hasOwn(d, 'dimValue') && d.dimValue != null ? toNumber(d.dimValue)
          : Object.hasOwn(d, 'dimParam') && d.dimParam ? d.dimParam
          : '?')
      : null;
    return { dtype: onnxDTypeName(t.tensorType.elemType ?? 0), shape };
  }
  if (t.sequenceType) return { dtype: `sequence<${describeType(t.sequenceType.elemType ?? {}).dtype}>`, shape: null };
  if (t.optionalType) return { dtype: `optional<${describeType(t.optionalType.elemType ?? {}).dtype}>`, shape: null };
  if (t.mapType) return { dtype: `map<${onnxDTypeName(t.mapType.keyType ?? 0)},${describeType(t.mapType.valueType ?? {}).dtype}>`, shape: null };
  return { dtype: 'unknown', shape: null };
}

/** The value of a one-element integer or float tensor (a trip count), else undefined. */
function scalarOf(t: OnnxTypes.ITensorProto): number | undefined {
  const n = (t.dims ?? []).reduce<number>((a, d) => a * toNumber(d), 1);
  if (n !== 1) return undefined;
  const D = onnx.TensorProto.DataType;
  const raw = t.rawData && t.rawData.length > 0 ? new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength) : undefined;
  switch (t.dataType) {
    case D.INT64: return raw ? (raw.byteLength >= 8 ? Number(raw.getBigInt64(0, true)) : undefined) : first(t.int64Data);
    case D.INT32: return raw ? (raw.byteLength >= 4 ? raw.getInt32(0, true) : undefined) : first(t.int32Data);
    default: return undefined;
  }
}

function first(values: readonly (number | { toNumber(): number })[] | null | undefined): number | undefined {
  return values && values.length > 0 ? toNumber(values[0]) : undefined;
}

function constantScalar(n: OnnxTypes.INodeProto): number | undefined {
  for (const a of n.attribute ?? []) {
    if (a.name === 'value' && a.t) return scalarOf(a.t);
    if (a.name === 'value_int') return toNumber(a.i);
  }
  return undefined;
}

/**
 * The report as aligned, human-readable text (what `twnn inspect` prints without `--json`).
 *
 * @example console.log(formatInspect(inspectModel(model)));
 */
export function formatInspect(r: InspectReport): string {
  const lines: string[] = [];
  // Every cell may hold a string from the model: escaped, it prints as inert text on one line.
  const section = (title: string, rows: string[][]) => {
    lines.push(printable(title));
    lines.push(...table(rows.map((row) => row.map(printable))).map((l) => `  ${l}`));
  };
  section('model', [
    ['ir version', String(r.irVersion)],
    ['opsets', r.opsets.map((o) => `${o.domain} ${o.version}`).join(', ')],
    ['producer', `${r.producer.name} ${r.producer.version}`.trim() || '-'],
    ['graph', r.graphName || '-'],
    ...(r.docString ? [['doc', oneLine(r.docString, CELL_MAX)]] : []),
    ...(r.graphDocString ? [['graph doc', oneLine(r.graphDocString, CELL_MAX)]] : []),
  ]);
  const io = (v: InspectValue) => [v.name, v.dtype, v.shape ? `[${v.shape.join(',')}]` : '(unknown rank)'];
  section(`inputs (${r.inputs.length})`, r.inputs.map(io));
  section(`outputs (${r.outputs.length})`, r.outputs.map(io));
  section(`ops (${r.nodeCount} nodes)`, r.ops.map((o) => [o.op, String(o.count)]));
  if (r.loops.length > 0) {
    section(`loops (${r.loops.length})`, r.loops.map((l) => [
      [...l.path, l.name].join(' > ') || '(unnamed)',
      `depth ${l.depth}`,
      `body ${l.bodyNodes} nodes`,
      l.bound === 'none' ? 'UNBOUNDED: no trip count' : l.bound === 'huge' ? `UNBOUNDED: trip count ${l.tripCount}` : `trip count ${l.tripCount ?? 'set at run time'}`,
      l.configError ? `config: ${l.configError}` : l.config ? formatConfig(l.config) : '',
    ]));
  }
  const unbounded = r.loops.filter((l) => l.bound === 'none' || l.bound === 'huge');
  if (unbounded.length > 0) {
    section(`warnings (${unbounded.length})`, unbounded.map((l) => [
      `Loop '${l.name}'`,
      `${l.bound === 'none' ? 'has no trip count: only its condition stops it' : `has trip count ${l.tripCount}`}; it may never finish (run and eval take --timeout)`,
    ]));
  }
  section('totals', [
    ['If nodes', String(r.ifCount)],
    ['parameters', `${r.parameters.toLocaleString('en-US')} in ${r.initializers} initializers`],
  ]);
  if (r.metadata.length > 0) section(`metadata (${r.metadata.length})`, r.metadata.map((m) => [m.key, oneLine(m.value, CELL_MAX)]));
  return lines.join('\n');
}

function formatConfig(c: LoopConfig): string {
  const parts: string[] = [];
  if (c.region !== undefined) parts.push(`region ${c.region}`);
  if (c.tol !== undefined) parts.push(`tol ${c.tol}`);
  if (c.maxIter !== undefined) parts.push(`maxIter ${c.maxIter}`);
  if (c.norm !== undefined) parts.push(`norm ${c.norm}`);
  if (Array.isArray(c.wormholes) && c.wormholes.length > 0) {
    const ws = c.wormholes.map((w) => `${w.from}→${w.to}${w.gateBias !== undefined ? ` (gate bias ${w.gateBias})` : ''}`);
    parts.push(`wormholes ${ws.join(', ')}`);
  }
  if (c.backward !== undefined) parts.push(`backward ${c.backward}`);
  if (typeof c.contractive === 'number') parts.push(`contractive (Lip ≤ ${c.contractive})`);
  return parts.join('  ');
}

// Long values (a twnn.loop JSON) would wreck the alignment; the JSON report keeps them whole.
const CELL_MAX = 100;

/** Left-aligned columns, two spaces apart, trailing blanks trimmed. */
function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat(widths[i] - [...cell].length))).join('  ').trimEnd());
}
