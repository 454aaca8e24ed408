// The memory benchmark's harness (lab/bench/memory.ts) on a small network:
// a report of sane numbers, sweeps forced exactly, and unrolled memory that
// grows with the sweeps. Not a timed test: the only comparison is of memory,
// and the configuration makes unrolled's stored states (299 sweeps x 512
// samples x 32 floats ≈ 19.6 MB) large against the few MB of allocator noise,
// while each step stays cheap.
import { describe, expect, it } from 'vitest';
import { formatMemoryReport, measureSweepMemory, memoryGrowth, runMemoryBench, type MemoryReport } from '../../lab/bench/memory.js';
import { SpecError } from '../../src/common/errors.js';
import { expectUserError, twnn } from '../cli/run-cli.js';

const SMALL = { batch: 512, inputSize: 16, width: 32, classes: 4 };

describe('memory benchmark', () => {
  let report: MemoryReport;

  it('measures every (backward, sweeps) pair in a fresh process, with sweeps forced exactly', async () => {
    const seen: string[] = [];
    report = await runMemoryBench({ ...SMALL, sweeps: [3, 300], backward: ['implicit', 'phantom:2', 'unrolled'] }, (m) => seen.push(`${m.backward}@${m.sweeps}`));
    expect(seen).toEqual(['implicit@3', 'implicit@300', 'phantom:2@3', 'phantom:2@300', 'unrolled@3', 'unrolled@300']);
    expect(report.shape).toEqual(SMALL);
    expect(report.arena).toBe(false);
    for (const r of report.results) {
      expect(r.iterations, `${r.backward}@${r.sweeps}`).toEqual([r.sweeps]);
      expect(r.hwmReset).toBe(true);
      // A Node process with onnxruntime loaded holds tens of MiB; the step adds a little and frees nothing below its start.
      expect(r.baselineKiB).toBeGreaterThan(20 * 1024);
      expect(r.peakKiB).toBeGreaterThanOrEqual(r.baselineKiB);
      expect(r.increaseKiB).toBe(r.peakKiB - r.baselineKiB);
      expect(r.creationPeakKiB).toBeGreaterThanOrEqual(r.baselineKiB / 2);
      expect(Number.isFinite(r.stepMs) && r.stepMs > 0).toBe(true);
    }
    // The backward passes ran as configured: phantom:2 takes one adjoint step, unrolled replays every adopted sweep.
    const at = (b: string, n: number) => report.results.find((r) => r.backward === b && r.sweeps === n)!;
    expect(at('phantom:2', 300).iterationsBackward).toEqual([1]);
    expect(at('unrolled', 300).iterationsBackward).toEqual([299]);
    expect(at('unrolled', 3).iterationsBackward).toEqual([2]);
  });

  it('unrolled memory grows with the sweeps by about the stored states; implicit grows far less', () => {
    const growth = memoryGrowth(report);
    expect(growth.map((g) => g.backward)).toEqual(['implicit', 'phantom:2', 'unrolled']);
    const unrolled = growth.find((g) => g.backward === 'unrolled')!;
    const implicit = growth.find((g) => g.backward === 'implicit')!;
    const storedKiB = (299 * SMALL.batch * SMALL.width * 4) / 1024;
    expect(unrolled.most.increaseKiB - unrolled.fewest.increaseKiB).toBeGreaterThan(0.75 * storedKiB);
    expect(implicit.most.increaseKiB - implicit.fewest.increaseKiB).toBeLessThan(0.25 * storedKiB);
  });

  it('formats a table with one row per measurement and the growth per mode', () => {
    const text = formatMemoryReport(report);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^backward\s+sweeps\s+iterations\s+bwd iters\s+baseline MiB\s+peak MiB\s+increase MiB\s+step ms$/);
    expect(lines[1]).toMatch(/^implicit\s+3\s+3\s+\d+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+\d+$/);
    expect(lines[6]).toMatch(/^unrolled\s+300\s+300\s+299\s/);
    expect(text).toMatch(/^unrolled: 3 -> 300 sweeps: peak x[\d.]+ \([\d.]+ -> [\d.]+ MiB\), increase x[\d.]+/m);
    expect(text).toContain('onnxruntime CPU arena: off; glibc malloc: MALLOC_ARENA_MAX=1 MALLOC_MMAP_THRESHOLD_=131072; peak = VmHWM reset after session creation');
    expect(text).toMatch(/machine: .+, \d+ cores, \d+ GiB, Linux .+, Node v\d+/);
  });

  it('rejects a sweep count below 2 and an unknown backward mode', async () => {
    await expect(measureSweepMemory('implicit', 1, SMALL)).rejects.toThrow(SpecError);
    await expect(measureSweepMemory('implicit', 1, SMALL)).rejects.toThrow('a sweep count must be an integer >= 2');
    await expect(runMemoryBench({ ...SMALL, backward: ['adjoint' as 'implicit'] })).rejects.toThrow("backward must be 'implicit', 'unrolled' or 'phantom:k'");
  });
});

describe('twnn bench memory', () => {
  it('prints the report as JSON for the given sweeps, modes and sizes', async () => {
    const r = await twnn(['bench', 'memory', '--sweeps', '2,4', '--backward', 'unrolled', '--batch', '4', '--width', '8', '--input-size', '3', '--classes', '2', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as MemoryReport;
    expect(report.shape).toEqual({ batch: 4, inputSize: 3, width: 8, classes: 2 });
    expect(report.results.map((m) => [m.backward, m.sweeps, m.iterations, m.iterationsBackward])).toEqual([
      ['unrolled', 2, [2], [1]],
      ['unrolled', 4, [4], [3]],
    ]);
    expect(r.stderr).toMatch(/^ {2}unrolled, 2 sweeps: peak [\d.]+ MiB \(\+[\d.]+ MiB\)\n {2}unrolled, 4 sweeps: /);
  });

  it('rejects a sweep count below 2 and an unknown mode as usage errors', async () => {
    expectUserError(await twnn(['bench', 'memory', '--sweeps', '10,1']), '--sweeps expects an integer >= 2');
    expectUserError(await twnn(['bench', 'memory', '--backward', 'implicit,adjoint']), "--backward: 'adjoint' is not implicit, unrolled or phantom:k");
  });
});
