// Autoregressive generation (paper Task B, Fig. 6): a model that predicts the
// next sample from a window of the previous ones runs on its own output.
// Each step feeds the window as a batch of one, appends the prediction and
// slides the window by one sample; one session serves all the steps.
import { TwnnError } from '../common/errors.js';
import { Tensor } from '../ir/tensor.js';
import type { Device } from './device.js';
import { checkFixedPoint } from './guard.js';
import { openSession, type TwnnSession } from './session.js';

export interface GenerateOptions {
  /** Device when `model` is a path (default cpu). */
  device?: Device | string;
}

export interface GenerateResult {
  /** The `steps` generated samples, in order (float64 copies of the model's outputs). */
  series: Float64Array;
  /** Sweeps the model's fixed point took at each step; absent when the model has no `iterations` output. */
  iterations?: Int32Array;
}

/**
 * Run a next-sample model (input `x` `[B, window]`, output `y` `[B, 1]`)
 * autoregressively for `steps` steps from `seedWindow`: step k feeds the last
 * `window` samples (seed and generated alike) and appends the prediction.
 * A model given by path is opened on `options.device` and closed at the end;
 * a session is used as is and left open. A step whose fixed point diverges
 * is an error naming the step.
 *
 * @example
 * const { series, iterations } = await generate('exported/sine/model.onnx', sineSeries(8016).subarray(8000), 1000);
 */
export async function generate(model: string | TwnnSession, seedWindow: ArrayLike<number>, steps: number, options: GenerateOptions = {}): Promise<GenerateResult> {
  if (!Number.isSafeInteger(steps) || steps < 1) throw new TwnnError(`generate: steps must be a positive integer, got ${steps}`);
  const session = typeof model === 'string' ? await openSession(model, { ...(options.device !== undefined ? { device: options.device } : {}) }) : model;
  try {
    const { window, dtype } = windowInput(session, seedWindow.length);
    for (let i = 0; i < seedWindow.length; i++) {
      if (!Number.isFinite(seedWindow[i])) throw new TwnnError(`generate: seedWindow[${i}] is ${seedWindow[i]}; the seed must be finite numbers`);
    }
    // The samples so far: the seed, then each prediction; step k reads history[k .. k+window).
    const history = new Float64Array(window + steps);
    history.set(Array.from(seedWindow));
    const series = history.subarray(window);
    const hasIterations = session.outputNames.includes('iterations');
    const iterations = hasIterations ? new Int32Array(steps) : undefined;
    for (let k = 0; k < steps; k++) {
      const x = Tensor.fromNumbers(dtype, [1, window], history.subarray(k, k + window));
      const out = await session.run({ x });
      checkFixedPoint(out, `${session.where} (generation step ${k + 1})`);
      const y = out.y;
      if (!y || y.size !== 1) throw new TwnnError(`${session.where}: generation needs an output 'y' of one value per row, got ${y ? `[${y.shape.join(',')}]` : 'none'}`);
      series[k] = y.get(0);
      if (!Number.isFinite(series[k])) throw new TwnnError(`${session.where}: generation step ${k + 1} predicted ${series[k]}`);
      if (iterations) iterations[k] = out.iterations.get(0);
    }
    return { series: series.slice(), ...(iterations ? { iterations } : {}) };
  } finally {
    if (typeof model === 'string') await session.close();
  }
}

/** The model's input `x` must be a float `[B, window]` with `window` the seed's length. */
function windowInput(session: TwnnSession, seedLength: number): { window: number; dtype: 'float32' | 'float64' } {
  const x = session.input('x');
  const where = session.where;
  if (!x) throw new TwnnError(`${where}: generation feeds an input 'x', but the model's inputs are ${session.inputNames.join(', ') || 'none'}`);
  if (x.type !== 'float32' && x.type !== 'float64') throw new TwnnError(`${where}: generation needs a float input 'x', got ${x.type}`);
  if (session.dataInputs.length !== 1) throw new TwnnError(`${where}: generation feeds only 'x', but the model also needs ${session.dataInputs.map((i) => i.name).filter((n) => n !== 'x').join(', ')}`);
  const shape = x.shape;
  const window = shape?.[1];
  if (!shape || shape.length !== 2 || typeof window !== 'number') {
    throw new TwnnError(`${where}: generation needs an input x of [B, window] with a fixed window, got ${shape ? `[${shape.join(',')}]` : 'no declared shape'}`);
  }
  if (seedLength !== window) throw new TwnnError(`${where}: the seed window has ${seedLength} samples, but the model's input x takes ${window}`);
  return { window, dtype: x.type };
}
