// `twnn bench` takes --device like run/train/eval; on this CPU-only machine cuda is
// the clear one-line error, and bench memory refuses any GPU (it measures host RSS).
import { describe, it } from 'vitest';
import { expectUserError, twnn } from './run-cli.js';

describe('twnn bench --device', () => {
  it('bench paper --device cuda explains the missing CUDA EP in one line', async () => {
    expectUserError(await twnn(['bench', 'paper', '--device', 'cuda', '--out', '/tmp/twnn-bench-device-unused']), /cuda/i);
  });
  it('bench memory --device cuda is refused: host memory cannot see GPU buffers', async () => {
    expectUserError(await twnn(['bench', 'memory', '--device', 'cuda']), 'measures host memory');
  });
  it('a bad --device is a usage error', async () => {
    expectUserError(await twnn(['bench', 'paper', '--device', 'tpu']), /tpu/);
  });
});
