import { Option } from 'commander';
import { applyTf32Setting, parseDevice, type Device } from '../runtime/device.js';

/** The flags `deviceOption` and `tf32Option` add to a command. */
export interface DeviceFlags {
  device: string;
  /** false with --no-tf32. */
  tf32: boolean;
}

/**
 * `-d, --device <device>`: cpu (default), cuda or cuda:N. Shared by every
 * command that runs a model (run, train, eval, bench).
 *
 * @example program.command('bench').addOption(deviceOption()).addOption(tf32Option())
 */
export function deviceOption(): Option {
  return new Option('-d, --device <device>', 'cpu, cuda or cuda:N (never falls back to the CPU; see twnn doctor)').default('cpu');
}

/**
 * `--no-tf32`: full FP32 matmuls and convolutions on the GPU, for exact
 * comparisons with the CPU. onnxruntime's CUDA EP uses TF32 by default and
 * onnxruntime-node forwards no CUDA option but the device id, so this sets
 * NVIDIA_TF32_OVERRIDE=0, which cuBLAS and cuDNN read when they start.
 *
 * @example program.command('run').addOption(deviceOption()).addOption(tf32Option())
 */
export function tf32Option(): Option {
  return new Option('--no-tf32', 'on cuda: no TF32 tensor-core matmuls/convolutions (exact FP32, slower; sets NVIDIA_TF32_OVERRIDE=0)');
}

/**
 * The device the flags ask for. For a cuda device with --no-tf32, TF32 is
 * turned off for the whole process here, before any session exists: the
 * setting is read once, when the first CUDA session starts cuBLAS/cuDNN.
 *
 * @example const device = deviceFromFlags({ device: 'cuda:1', tf32: false }); // { kind: 'cuda', deviceId: 1 }
 */
export function deviceFromFlags(flags: DeviceFlags, env: NodeJS.ProcessEnv = process.env): Device {
  const device = parseDevice(flags.device);
  if (device.kind === 'cuda') applyTf32Setting(flags.tf32, env);
  return device;
}
