import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { FormatError } from '../../src/common/errors.js';
import { Tensor } from '../../src/ir/tensor.js';
import { decodeCheckpoint, encodeCheckpoint, loadCheckpoint, saveCheckpoint, type Checkpoint } from '../../src/runtime/checkpoint.js';

// A crash between writing the temp file and renaming it over the checkpoint is
// simulated by making `rename` fail on demand (writeFileAtomic imports it from here).
const crash = vi.hoisted(() => ({ onRename: false, partialWrite: false }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...real,
    rename: async (from: string, to: string) => {
      if (crash.onRename) throw Object.assign(new Error('simulated crash before rename'), { code: 'EIO' });
      return real.rename(from, to);
    },
    writeFile: async (path: string, data: Uint8Array | string) => {
      if (!crash.partialWrite) return real.writeFile(path, data);
      // Half the bytes reach the disk, then the process "dies".
      await real.writeFile(path, typeof data === 'string' ? data.slice(0, data.length / 2) : data.subarray(0, data.length / 2));
      throw Object.assign(new Error('simulated crash mid-write'), { code: 'EIO' });
    },
  };
});

const dir = mkdtempSync(join(tmpdir(), 'twnn-ckpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  crash.onRename = false;
  crash.partialWrite = false;
});

function sample(scale: number): Checkpoint {
  return {
    config: { model: 'toy', dtype: 'float32', epochs: 3, batch: 4, lr: 0.01, lrSchedule: 'cosine', optimizer: 'adam', hyper: { betas: [0.9, 0.99] }, seed: 5 },
    position: { epoch: 1, position: 7, step: 19, epochLossSum: 1.25 * scale, epochSamples: 28, seconds: 0.5, lastTrainLoss: 0.125 },
    shuffle: { seed: 5, epoch: 1 },
    params: new Map([
      ['0.weight', Tensor.fromNumbers('float32', [2, 3], [1, -2, 3.5, Math.fround(0.1), -0, 1e-40].map((v) => v * scale))],
      ['0.bias', Tensor.fromNumbers('float32', [2], [Number.MIN_VALUE, 7])],
    ]),
    state: new Map([['0.weight.m', Tensor.fromNumbers('float32', [2, 3], [0.5, 0, 0, 0, 0, scale])]]),
    buffers: new Map([
      ['bn.running_mean', Tensor.fromNumbers('float64', [2], [Math.PI, -Math.E])],
      ['bn.num_batches', Tensor.fromNumbers('int64', [], [123456789012])],
    ]),
  };
}

function expectSame(a: Checkpoint, b: Checkpoint): void {
  expect(b.config).toEqual(a.config);
  expect(b.position).toEqual(a.position);
  expect(b.shuffle).toEqual(a.shuffle);
  for (const group of ['params', 'state', 'buffers'] as const) {
    expect([...b[group].keys()]).toEqual([...a[group].keys()]);
    for (const [name, t] of a[group]) {
      const u = b[group].get(name)!;
      expect(u.dtype).toBe(t.dtype);
      expect(u.shape).toEqual(t.shape);
      // Bit for bit: compare the bytes, so -0 and denormals count.
      expect(Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))).toBe(true);
    }
  }
}

/** The checkpoint with its header JSON edited (the sha256 left as it was), the header length fixed up. */
function withHeader(bytes: Uint8Array, edit: (header: Record<string, any>) => void, serialize = (h: unknown) => JSON.stringify(h)): Uint8Array {
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + length))) as Record<string, any>;
  edit(header);
  const text = new TextEncoder().encode(serialize(header));
  const out = new Uint8Array(12 + text.length + bytes.length - 12 - length);
  out.set(bytes.subarray(0, 8));
  new DataView(out.buffer).setUint32(8, text.length, true);
  out.set(text, 12);
  out.set(bytes.subarray(12 + length), 12 + text.length);
  return out;
}

describe('checkpoint files', () => {
  it('round-trips config, position and every tensor bit for bit', async () => {
    const path = join(dir, 'round-trip.twnn');
    const ckpt = sample(1);
    await saveCheckpoint(path, ckpt);
    expectSame(ckpt, await loadCheckpoint(path));
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('keeps the previous checkpoint when the process dies before the rename', async () => {
    const path = join(dir, 'crash-rename.twnn');
    await saveCheckpoint(path, sample(1));
    const before = readFileSync(path);
    crash.onRename = true;
    await expect(saveCheckpoint(path, sample(2))).rejects.toThrow(/cannot write .*crash-rename\.twnn: input\/output error \(EIO\)/);
    expect(readFileSync(path).equals(before)).toBe(true);
    expectSame(sample(1), await loadCheckpoint(path));
  });

  it('keeps the previous checkpoint when the process dies mid-write', async () => {
    const path = join(dir, 'crash-write.twnn');
    await saveCheckpoint(path, sample(1));
    crash.partialWrite = true;
    await expect(saveCheckpoint(path, sample(3))).rejects.toThrow(/cannot write .*crash-write\.twnn: input\/output error \(EIO\)/);
    crash.partialWrite = false;
    expectSame(sample(1), await loadCheckpoint(path));
  });

  it('rejects a torn or corrupted file with a FormatError naming it', () => {
    const bytes = encodeCheckpoint(sample(1));
    const truncated = bytes.subarray(0, bytes.length - 3);
    expect(() => decodeCheckpoint(truncated, 'torn.twnn')).toThrow(FormatError);
    expect(() => decodeCheckpoint(truncated, 'torn.twnn')).toThrow(/torn\.twnn: .*truncated/);
    const flipped = bytes.slice();
    flipped[flipped.length - 1] ^= 1;
    expect(() => decodeCheckpoint(flipped, 'flipped.twnn')).toThrow(/flipped\.twnn: .*sha256 \(edited or corrupted\)/);
    expect(() => decodeCheckpoint(new TextEncoder().encode('{"not": "a checkpoint"}'), 'x.json')).toThrow(/x\.json: not a usable twnn checkpoint: it does not start with 'TWNNCKPT'/);
  });

  it('refuses a checkpoint whose header was edited, with one line naming the file (issue 23, item 12)', () => {
    const bytes = encodeCheckpoint(sample(1));
    const edits: [string, (h: Record<string, any>) => void][] = [
      ['the step count', (h) => (h.position.step = 1_000_000_000)],
      ['the epoch', (h) => (h.position.epoch = 0)],
      ['the lr', (h) => (h.config.lr = 1000)],
      ['the dtype', (h) => (h.config.dtype = 'float64')],
      ['a tensor entry', (h) => (h.tensors[0].name = '0.other')],
      ['the version (to 1)', (h) => (h.version = 1)],
    ];
    for (const [what, edit] of edits) {
      const edited = withHeader(bytes, edit);
      expect(() => decodeCheckpoint(edited, 'edited.twnn'), what).toThrow(/^edited\.twnn: not a usable twnn checkpoint: [^\n]*does not match its sha256 \((edited or )?corrupted\)$/);
    }
    // Whitespace alone is an edit too (the bytes are covered, not the parsed values).
    const spaced = withHeader(bytes, () => {}, (h) => JSON.stringify(h, null, 1));
    expect(() => decodeCheckpoint(spaced, 'spaced.twnn')).toThrow(/sha256 \(edited or corrupted\)/);
    // The untouched file still reads.
    expectSame(sample(1), decodeCheckpoint(bytes, 'intact.twnn'));
  });

  it('still reads a version 1 checkpoint (sha256 of the data alone), and checks what it reads', () => {
    const v2 = encodeCheckpoint(sample(2));
    const dataOf = (b: Uint8Array) => b.subarray(12 + new DataView(b.buffer, b.byteOffset).getUint32(8, true));
    const v1 = withHeader(v2, (h) => Object.assign(h, { version: 1, sha256: createHash('sha256').update(dataOf(v2)).digest('hex') }));
    expectSame(sample(2), decodeCheckpoint(v1, 'v1.twnn'));
    // Version 1 did not cover its header: what the trainer reads is checked instead.
    const bad = withHeader(v1, (h) => (h.position.step = -5));
    expect(() => decodeCheckpoint(bad, 'v1-bad.twnn')).toThrow(/v1-bad\.twnn: not a usable twnn checkpoint: position\.step is -5, not a count/);
    expect(() => decodeCheckpoint(withHeader(v1, (h) => (h.version = 3)), 'v3.twnn')).toThrow(/v3\.twnn: .*version 3, this twnn reads versions 1 and 2/);
  });

  it('says how to get a checkpoint when there is none', async () => {
    const path = join(dir, 'none.twnn');
    expect(existsSync(path)).toBe(false);
    await expect(loadCheckpoint(path)).rejects.toThrow(`${path}: cannot read checkpoint (no such file; train without --resume first)`);
  });

  it('a leftover temp file from a crashed writer does not disturb the next save', async () => {
    const path = join(dir, 'leftover.twnn');
    writeFileSync(join(dir, '.leftover.twnn.abcdef.tmp'), 'half a checkpoint');
    await saveCheckpoint(path, sample(4));
    expectSame(sample(4), await loadCheckpoint(path));
  });
});
