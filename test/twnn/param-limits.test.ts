// A parameter that cannot exist is refused before anything is allocated
// (issue 13, item 2): past a typed array's reach, or past the machine's memory
// together with the parameters declared before it. The machine's memory is
// mocked small here, so the test allocates nothing large.
import { describe, expect, it, vi } from 'vitest';
import { defineModel, dense, sequential } from '../../src/index.js';
import { buildInferenceGraph } from '../../src/lower/inference.js';

vi.mock('node:os', async (original) => ({ ...(await original<typeof import('node:os')>()), totalmem: () => 8 * 1024 * 1024 }));

const model = (...layers: ReturnType<typeof dense>[]) => defineModel({ name: 'big', input: { shape: ['B', 4], dtype: 'float' }, net: sequential(...layers) });

describe('parameters too large to allocate', () => {
  it('are refused by size when one tensor could not hold them', () => {
    expect(() => buildInferenceGraph(model(dense(4, 2 ** 40)))).toThrow(
      "parameter '0.weight' [1099511627776,4] float32 (16.0 TiB) is too large: one tensor holds at most 2147483647 elements",
    );
  });

  it("are refused when the parameters so far outgrow the machine's memory, naming the one that tips it", () => {
    // 4 x 262144 float32 weights: 4 MiB each (and a 1 MiB bias); the second brings the total past the (mocked) 8 MiB.
    expect(() => buildInferenceGraph(model(dense(4, 262144), dense(262144, 4)))).toThrow(
      /parameter '1\.weight' \[4,262144\] float32 \(4\.0 MiB\) does not fit: the parameters so far need 9\.0 MiB, more than this machine's 8\.0 MiB of memory/,
    );
    expect(() => buildInferenceGraph(model(dense(4, 256)))).not.toThrow();
  });
});
