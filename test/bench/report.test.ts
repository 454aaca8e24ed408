// renderResults on hand-made reports: what it says depends on the data set
// the runs were evaluated on, and on which runs exist.
import { describe, expect, it } from 'vitest';
import type { PaperReport } from '../../lab/bench/paper-types.js';
import { renderResults } from '../../lab/bench/report.js';

function report(testSet: string): PaperReport {
  return {
    runs: [{ run: { id: 'a', label: 'A TWNN', family: 'F', role: 'twnn', dir: 'nowhere', command: 'twnn train a.ts' } }],
    method: { testSet, evalBatch: 256, stepBatch: 0, memory: true, stepRepeats: 5, latencyCount: 100, latencyRepeats: 3, machine: 'test machine', command: 'twnn bench paper' },
  };
}

describe('renderResults', () => {
  it('on MNIST, says the CIFAR-10 comparison cannot be checked, and lists untrained runs with their command', () => {
    const text = renderResults(report('mnist/test (10000 examples)'), new Map());
    expect(text).toContain('Here the comparison runs on mnist/test (10000 examples) (CIFAR-10 is not available on this machine; see §7).');
    expect(text).toContain('**cannot be checked here**');
    expect(text).toContain('Not reproduced: no CIFAR-10 data on this machine.');
    expect(text).toContain('| A TWNN | twnn | not run yet | — | — | — | — | — | — | — | `twnn train a.ts` |');
    expect(text).toContain('## 4. Dynamic depth\n\nNo trained TWNN yet.');
    expect(text).toContain('## 5. Training curves\n\nNo trained run yet.');
    expect(text.endsWith('\n')).toBe(true);
    expect(text).not.toMatch(/\n\n\n/);
  });

  it('on CIFAR-10, puts the rows beside the paper\'s numbers instead', () => {
    const text = renderResults(report('cifar10/test (10000 examples)'), new Map());
    expect(text).toContain('These rows are evaluated on cifar10/test (10000 examples).');
    expect(text).not.toContain('cannot be checked');
    expect(text).not.toContain('Not reproduced');
    expect(text).toContain('| TWRNN | 96.54% |');
  });

  it('says whether a run with a target reaches it', () => {
    const withTest = (accuracy: number): PaperReport => {
      const r = report('mnist/test (10000 examples)');
      const run = { ...r.runs[0], run: { ...r.runs[0].run, target: 0.993 }, test: { accuracy, regions: [] } } as unknown as PaperReport['runs'][number];
      return { ...r, runs: [run] };
    };
    expect(renderResults(withTest(0.9931), new Map())).toContain('- **A TWNN**: target ≥ 99.30% test accuracy: **met** (99.31%).');
    expect(renderResults(withTest(0.9929), new Map())).toContain('- **A TWNN**: target ≥ 99.30% test accuracy: **not met** (99.29%).');
  });

  it('says when there is no sine report yet', () => {
    expect(renderResults(report('mnist/test (10000 examples)'), new Map())).toContain('The sine report (`exported/sine/report.json`) is not there yet');
  });
});
