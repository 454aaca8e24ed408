// A training checkpoint: everything a run needs to continue exactly where it
// stopped, in one file written atomically.
//
// Layout: the 8-byte magic `TWNNCKPT`, a little-endian uint32 header length,
// the header as UTF-8 JSON (config, position, tensor table, sha256), then the
// tensors' raw little-endian bytes back to back. A checkpoint is either the old
// file or the new one (temp file + rename), and a torn or edited one fails its
// sha256 check instead of resuming from garbage.
//
// Version 2 (this twnn writes it): the sha256 covers the header and the data —
// the header's bytes as written with the sha256's 64 hex digits read as zeros,
// then the data — so an edited step count or setting is refused like a flipped
// weight. Version 1 (read still) covered the data alone. A version 2 file edited
// to say version 1 fails version 1's check, as its sha256 is not that of its data.
// The sha256 finds edits and corruption; it is not a signature (anyone can
// compute one for a forged file).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { ALL_DTYPES, dtypeBytes, type DType } from '../ir/dtype.js';
import { FormatError, TwnnError } from '../common/errors.js';
import { allocate, Tensor } from '../ir/tensor.js';
import { writeFileAtomic } from '../common/files.js';
import type { LrSchedule } from '../common/training.js';

export const CHECKPOINT_FILE = 'checkpoint.twnn';
const MAGIC = 'TWNNCKPT';
const VERSION = 2;
/** Versions this twnn reads: 1 (sha256 of the data alone) and 2. */
const READABLE = [1, 2];
const ZERO_SHA = '0'.repeat(64);

/** Which of the trainer's tensor groups a tensor belongs to. */
export type TensorGroup = 'params' | 'state' | 'buffers';
const GROUPS: readonly TensorGroup[] = ['params', 'state', 'buffers'];

/** The run's settings; a resumed run must use the same ones (see `trainer.ts`). */
export interface TrainConfig {
  model: string;
  dtype: 'float32' | 'float64';
  epochs: number;
  batch: number;
  lr: number;
  lrSchedule: LrSchedule;
  optimizer: string;
  /** Optimizer hyper-parameters besides lr (momentum, betas, ...), as given to the export. */
  hyper: Record<string, unknown>;
  seed: number;
}

/**
 * Where the run stands. Epochs and `position` are 0-based counts of what is
 * done: `position` batches of epoch `epoch` have run; `step` optimizer steps in
 * all. The shuffle state is `{ seed, epoch }` alone (the order of an epoch is a
 * function of both: `shuffledOrder`), so it needs nothing more.
 */
export interface TrainPosition {
  epoch: number;
  position: number;
  step: number;
  /** Running sums of the current epoch's training loss (for its mean). */
  epochLossSum: number;
  epochSamples: number;
  /** The current epoch's unsettled training samples so far (absent in checkpoints written before twnn counted them). */
  epochUnsettled?: number;
  /** Seconds spent training so far, over all sessions of the run. */
  seconds: number;
  /** Mean training loss of the last finished epoch (null before the first ends). */
  lastTrainLoss: number | null;
}

export interface Checkpoint {
  config: TrainConfig;
  position: TrainPosition;
  shuffle: { seed: number; epoch: number };
  params: Map<string, Tensor>;
  state: Map<string, Tensor>;
  buffers: Map<string, Tensor>;
}

interface TensorEntry {
  group: TensorGroup;
  name: string;
  dtype: DType;
  shape: number[];
  offset: number;
  bytes: number;
}

interface Header {
  format: 'twnn.checkpoint';
  version: number;
  config: TrainConfig;
  position: TrainPosition;
  shuffle: { seed: number; epoch: number };
  tensors: TensorEntry[];
  dataBytes: number;
  sha256: string;
}

/**
 * The checkpoint as file bytes.
 *
 * @example const bytes = encodeCheckpoint(ckpt);
 */
export function encodeCheckpoint(ckpt: Checkpoint): Uint8Array {
  assertLittleEndian();
  const tensors: TensorEntry[] = [];
  let offset = 0;
  for (const group of GROUPS) {
    for (const [name, t] of ckpt[group]) {
      const bytes = t.size * dtypeBytes(t.dtype);
      tensors.push({ group, name, dtype: t.dtype, shape: [...t.shape], offset, bytes });
      offset += bytes;
    }
  }
  const data = new Uint8Array(offset);
  for (const e of tensors) {
    const t = ckpt[e.group].get(e.name)!;
    data.set(new Uint8Array(t.data.buffer, t.data.byteOffset, e.bytes), e.offset);
  }
  const header: Header = {
    format: 'twnn.checkpoint',
    version: VERSION,
    config: ckpt.config,
    position: ckpt.position,
    shuffle: ckpt.shuffle,
    tensors,
    dataBytes: data.length,
    sha256: ZERO_SHA, // last, and the same length as the digest that replaces it
  };
  const text = JSON.stringify(header);
  const digest = createHash('sha256').update(text).update(data).digest('hex');
  const headerBytes = new TextEncoder().encode(`${text.slice(0, -ZERO_SHA.length - 2)}${digest}"}`);
  const out = new Uint8Array(MAGIC.length + 4 + headerBytes.length + data.length);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(MAGIC.length, headerBytes.length, true);
  out.set(headerBytes, MAGIC.length + 4);
  out.set(data, MAGIC.length + 4 + headerBytes.length);
  return out;
}

/**
 * Parse checkpoint bytes; anything else (a foreign, truncated or corrupted
 * file) is a FormatError naming `where`.
 *
 * @example const ckpt = decodeCheckpoint(await readFile(path), path);
 */
export function decodeCheckpoint(bytes: Uint8Array, where: string): Checkpoint {
  assertLittleEndian();
  const fail = (why: string) => new FormatError(`${where}: not a usable twnn checkpoint: ${why}`);
  const prefix = MAGIC.length + 4;
  if (bytes.length < prefix || new TextDecoder().decode(bytes.subarray(0, MAGIC.length)) !== MAGIC) throw fail(`it does not start with '${MAGIC}'`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(MAGIC.length, true);
  if (prefix + headerLength > bytes.length) throw fail('the header is truncated');
  const text = new TextDecoder().decode(bytes.subarray(prefix, prefix + headerLength));
  let header: Header;
  try {
    header = JSON.parse(text) as Header;
  } catch (err) {
    throw fail(`the header is not JSON (${(err as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || header.format !== 'twnn.checkpoint') throw fail('the header is not a checkpoint header');
  if (!READABLE.includes(header.version)) throw fail(`version ${JSON.stringify(header.version)}, this twnn reads versions ${READABLE.join(' and ')}`);
  const data = bytes.subarray(prefix + headerLength);
  if (data.length !== header.dataBytes) throw fail(`${header.dataBytes} data bytes expected, the file has ${data.length}${data.length < header.dataBytes ? ' (truncated)' : ''}`);
  if (header.version === 1) {
    if (createHash('sha256').update(data).digest('hex') !== header.sha256) throw fail('the data does not match its sha256 (corrupted)');
  } else {
    const written = `"sha256":"${header.sha256}"}`;
    const ok = /^[0-9a-f]{64}$/.test(String(header.sha256)) && text.endsWith(written);
    const zeroed = ok ? `${text.slice(0, -written.length)}"sha256":"${ZERO_SHA}"}` : '';
    if (!ok || createHash('sha256').update(zeroed).update(data).digest('hex') !== header.sha256) {
      throw fail('the header or the data does not match its sha256 (edited or corrupted)');
    }
  }
  checkHeader(header, fail);
  const ckpt: Checkpoint = { config: header.config, position: header.position, shuffle: header.shuffle, params: new Map(), state: new Map(), buffers: new Map() };
  for (const e of header.tensors) {
    if (!GROUPS.includes(e.group)) throw fail(`tensor '${e.name}' has unknown group '${e.group}'`);
    if (!ALL_DTYPES.includes(e.dtype) || !Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw fail(`tensor '${e.name}' has no valid dtype and shape`);
    const n = e.shape.reduce((a, b) => a * b, 1);
    if (n * dtypeBytes(e.dtype) !== e.bytes || e.offset + e.bytes > data.length) throw fail(`tensor '${e.name}' does not fit its entry`);
    const values = allocate(e.dtype, n);
    // Copy out: the typed array must own aligned memory, independent of the file's buffer.
    new Uint8Array(values.buffer).set(data.subarray(e.offset, e.offset + e.bytes));
    ckpt[e.group].set(e.name, new Tensor(e.dtype, e.shape, values));
  }
  return ckpt;
}

/**
 * Write a checkpoint atomically (temp file beside it, then rename): a crash
 * mid-write leaves the previous checkpoint intact.
 *
 * @example await saveCheckpoint('runs/sine/checkpoint.twnn', ckpt);
 */
export async function saveCheckpoint(path: string, ckpt: Checkpoint): Promise<void> {
  await writeFileAtomic(path, encodeCheckpoint(ckpt));
}

/**
 * Read a checkpoint; a missing file is a TwnnError saying so.
 *
 * @example const ckpt = await loadCheckpoint('runs/sine/checkpoint.twnn');
 */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TwnnError(`${path}: cannot read checkpoint (${code === 'ENOENT' ? 'no such file; train without --resume first' : (err as Error).message})`);
  }
  return decodeCheckpoint(bytes, path);
}

/** The header's fields are of the kinds the trainer reads (a version 1 header was not covered by its sha256). */
function checkHeader(header: Header, fail: (why: string) => FormatError): void {
  const count = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  const p = header.position as unknown as Record<string, unknown> | null;
  if (typeof p !== 'object' || p === null) throw fail('the header has no position');
  for (const key of ['epoch', 'position', 'step', 'epochSamples'] as const) if (!count(p[key])) throw fail(`position.${key} is ${JSON.stringify(p[key])}, not a count`);
  if (typeof header.config !== 'object' || header.config === null) throw fail('the header has no config');
  if (header.config.dtype !== 'float32' && header.config.dtype !== 'float64') throw fail(`config.dtype is ${JSON.stringify(header.config.dtype)}, not float32 or float64`);
  if (!Array.isArray(header.tensors)) throw fail('the header has no tensor table');
}

function assertLittleEndian(): void {
  // The tensors' bytes are copied as the host lays them out; every platform onnxruntime-node ships for is little-endian.
  if (endianness() !== 'LE') throw new TwnnError('twnn checkpoints need a little-endian host');
}
