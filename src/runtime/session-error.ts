// Why onnxruntime could not open a session, on one line: for a CUDA device,
// the library check (src/runtime/cuda.ts) says which piece is missing, where
// onnxruntime only says "Failed to load shared library". Its own file, so the
// device settings (device.ts) and the CUDA diagnosis (cuda.ts, which reads
// them) import each other in one direction only.
import { oneLine } from '../ir/text.js';
import { TwnnError } from '../common/errors.js';
import { cudaLoadReason } from './cuda.js';
import { CUDA_INSTALL_HINT, formatDevice, type Device } from './device.js';

/**
 * A TwnnError for a failed session creation on `device`, on one line. CUDA
 * failures (a missing libcudart/libcublas, no GPU, a bad device id) name the
 * device and how to set the EP up.
 *
 * @example throw sessionCreationError(err, parseDevice('cuda'), 'model.onnx');
 */
export function sessionCreationError(err: unknown, device: Device, where: string): TwnnError {
  const message = oneLine(err instanceof Error ? err.message : String(err));
  if (device.kind === 'cpu') return new TwnnError(`${where}: onnxruntime could not create a session: ${message}`);
  // onnxruntime's message only says "Failed to load shared library"; the library check says which one.
  const reason = cudaLoadReason() ?? `the CUDA EP needs an NVIDIA GPU and the CUDA 13 runtime libraries on LD_LIBRARY_PATH; ${CUDA_INSTALL_HINT}`;
  return new TwnnError(`${where}: onnxruntime could not create a CUDA session on ${formatDevice(device)}: ${message} (${reason}; see 'twnn doctor')`);
}
