// The study's statistics and claim verdicts (lab/bench/study-verdicts.ts,
// study-judge.ts) on hand-made summaries: each verdict, including the
// equal-training-time reading, follows from the numbers it is given.
import { describe, expect, it } from 'vitest';
import { judgeStudy, type ModelSummary } from '../../lab/bench/study-judge.js';
import { accuracyVerdict, costVerdict, spread, welchT } from '../../lab/bench/study-verdicts.js';

describe('spread and Welch t', () => {
  it('uses the sample standard deviation and compares means by their standard errors', () => {
    const a = spread([0.86, 0.87, 0.88]);
    expect(a.mean).toBeCloseTo(0.87, 12);
    expect(a.std).toBeCloseTo(0.01, 12);
    expect(spread([0.5])).toEqual({ mean: 0.5, std: 0, n: 1 });
    const b = spread([0.8, 0.81, 0.82]);
    expect(welchT(a, b)).toBeCloseTo(0.06 / Math.sqrt(0.0001 / 3 + 0.0001 / 3), 9);
    expect(welchT(a, spread([0.8]))).toBeUndefined();
  });

  it('calls a difference only beyond |t| = 2, and a cost held within its slack', () => {
    expect(accuracyVerdict(spread([0.9, 0.91, 0.92]), spread([0.8, 0.81, 0.82])).verdict).toBe('holds');
    expect(accuracyVerdict(spread([0.8, 0.81, 0.82]), spread([0.9, 0.91, 0.92])).verdict).toBe('reversed');
    expect(accuracyVerdict(spread([0.85, 0.9, 0.8]), spread([0.86, 0.84, 0.85])).verdict).toBe('fails');
    expect(costVerdict(104, 100).verdict).toBe('holds');
    expect(costVerdict(106, 100)).toEqual({ verdict: 'fails', ratio: 1.06 });
    expect(costVerdict(96, 100, -0.05).verdict).toBe('fails');
    expect(costVerdict(undefined, 100).verdict).toBe('undetermined');
  });
});

function model(kind: ModelSummary['kind'], accuracies: number[], secondsPerEpoch: number, perEpoch: number[][], extra: Partial<ModelSummary> = {}): ModelSummary {
  return {
    id: kind,
    label: kind,
    kind,
    role: kind.startsWith('twnn') ? 'twnn' : 'baseline',
    paperName: kind,
    seeds: accuracies.map((_, i) => i),
    accuracy: spread(accuracies),
    sweeps: spread(accuracies.map(() => (kind.startsWith('twnn') ? 8 : 1))),
    trainerSecondsPerEpoch: spread([secondsPerEpoch]),
    msPerStep: (secondsPerEpoch * 1000) / 100,
    secondsPerEpoch,
    stepMemoryKb: kind.startsWith('twnn') ? 2048 : 1024,
    perEpoch: perEpoch.map((acc, i) => ({ epoch: i + 1, accuracy: spread(acc), benchSeconds: (i + 1) * secondsPerEpoch })),
    ...extra,
  };
}

describe('judgeStudy', () => {
  const twnn = model('twnn', [0.9, 0.91, 0.92], 300, [[0.85, 0.86, 0.87], [0.9, 0.91, 0.92]]);

  it('judges accuracy at equal epochs, training time and memory against the deep baseline', () => {
    const deep = model('deep', [0.8, 0.81, 0.82], 200, [[0.75, 0.76, 0.77], [0.8, 0.81, 0.82]]);
    const claims = judgeStudy([twnn, deep], []).claims;
    const find = (text: string) => claims.find((c) => c.claim.includes(text))!;
    expect(find('twice the blocks at equal epochs').verdict).toBe('holds');
    expect(find('no slower').verdict).toBe('fails');
    expect(find('no slower').measured).toContain('(×1.50)');
    expect(find('less memory').verdict).toBe('fails');
    // The baseline finished in 400 s of the TWNN's 600: the TWNN wins, but the baseline's spare time is untested.
    expect(find('twice the blocks at equal training time').verdict).toBe('undetermined');
  });

  it('at equal time, a baseline that is better even with time to spare makes the claim reversed', () => {
    const same = model('same-blocks', [0.95, 0.96, 0.97], 100, [[0.93, 0.94, 0.95], [0.95, 0.96, 0.97]]);
    const claim = judgeStudy([twnn, same], []).claims.find((c) => c.claim.includes('same blocks at equal training time'))!;
    expect(claim.verdict).toBe('reversed');
    expect(claim.why).toContain('the baseline used only 200 s of it');
  });

  it('at equal time, a slower baseline is read at its last epoch within the TWNN time', () => {
    const slow = model('deep', [0.95, 0.96, 0.97], 400, [[0.7, 0.71, 0.72], [0.95, 0.96, 0.97]]);
    const claim = judgeStudy([twnn, slow], []).claims.find((c) => c.claim.includes('at equal training time'))!;
    expect(claim.measured).toContain('after 400 s (epoch 1)');
    expect(claim.verdict).toBe('holds');
  });

  it("judges skipping's accuracy cost and its time savings at each batch", () => {
    const skip = model('twnn-skip', [0.9, 0.905, 0.91], 300, [[0.9, 0.905, 0.91]], {
      skip: { rates: [{ block: 'region2.B4', rate: spread([0.4, 0.5, 0.45]) }], unskippedAccuracy: spread([0.9, 0.91, 0.905]) },
    });
    const claims = judgeStudy([twnn, skip], [
      { model: 'twnn-skip', batch: 1, skippingMs: 9, unskippedMs: 10 },
      { model: 'twnn-skip', batch: 64, skippingMs: 101, unskippedMs: 100 },
    ]).claims;
    const accuracy = claims.find((c) => c.claim.startsWith('Skipping blocks costs no'))!;
    expect(accuracy.verdict).toBe('holds');
    expect(accuracy.measured).toContain('region2.B4 45.0%');
    expect(claims.find((c) => c.claim.endsWith('batch 1'))!.verdict).toBe('holds');
    expect(claims.find((c) => c.claim.endsWith('batch 64'))!.verdict).toBe('fails');
    const worse = model('twnn-skip', [0.8, 0.81, 0.82], 300, [[0.8, 0.81, 0.82]], { skip: skip.skip });
    expect(judgeStudy([twnn, worse], []).claims.find((c) => c.claim.startsWith('Skipping blocks costs no'))!.verdict).toBe('fails');
  });

  it('leaves out claims whose models have no finished runs', () => {
    expect(judgeStudy([twnn], []).claims).toEqual([]);
  });
});
