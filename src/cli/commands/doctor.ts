import { Option, type Command } from 'commander';
import * as ort from 'onnxruntime-node';
import { TwnnError } from '../../common/errors.js';
import { Tensor } from '../../ir/tensor.js';
import { checkCudaLibraries, cudaOnDemandNote, cudaProblem, libraryPathHint, queryGpus, type CudaLibraries, type GpuInfo } from '../../runtime/cuda.js';
import { probeCudaSession, probeModels, type CudaProbe } from '../../runtime/cuda-probe.js';
import { formatDevice, oneLine, ortNativeDir, parseDevice } from '../../runtime/device.js';
import { openSession } from '../../runtime/session.js';

interface DoctorFlags {
  device: string;
}

/**
 * `twnn doctor`: what this machine can run on, and for CUDA exactly what is
 * missing. Exits 0 whenever it could diagnose, whatever it found; the last
 * line is the verdict (`cuda: ready ...` or `cuda: unavailable: <what, and how to fix it>`).
 *
 * @example registerDoctor(program);
 */
export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description(
      'check onnxruntime-node and its CUDA execution provider: the provider libraries, the CUDA 13 libraries they load, the GPUs, ' +
        'and a real session on the GPU; the last line says whether --device cuda works and, if not, what is missing',
    )
    .addOption(new Option('-d, --device <device>', 'the GPU to try: cuda or cuda:N').default('cuda'))
    .action(async (flags: DoctorFlags) => {
      const device = parseDevice(flags.device);
      if (device.kind !== 'cuda') throw new TwnnError(`twnn doctor checks a GPU: --device must be cuda or cuda:N, got '${flags.device}'`);
      const out = (line: string) => process.stdout.write(`${line}\n`);
      const nativeDir = ortNativeDir();
      out(`node            ${process.version} (${process.platform} ${process.arch})`);
      out(`onnxruntime     onnxruntime-node ${ort.env.versions.node ?? '?'} (native ${ort.env.versions.common ?? '?'}) in ${nativeDir}`);
      out(`backends        ${backendsText()}`);
      out(`cpu             ${await cpuCheck()}`);

      const libraries = checkCudaLibraries({ nativeDir });
      out(`CUDA EP         ${libraries.provider.available ? `installed in ${nativeDir}` : `missing ${libraries.provider.missing.join(', ')} in ${nativeDir}`}`);
      out(`CUDA libraries  ${libraries.source === 'provider' ? "what the installed provider links against, and what it loads on demand:" : "what ONNX Runtime 1.29.0's CUDA EP links against (provider not installed), and what it loads on demand:"}`);
      const width = Math.max(...libraries.libraries.map((l) => l.name.length));
      for (const l of libraries.libraries) {
        const where = l.path ?? `not found${l.locatedIn?.length ? ` (there is one in ${l.locatedIn.join(', ')})` : ''}`;
        out(`  ${l.name.padEnd(width)}  ${where}${l.role === 'on demand' ? `  [on demand: ${l.purpose}]` : ''}`);
      }
      const gpus = queryGpus();
      out(`GPU             ${'gpus' in gpus ? gpus.gpus.map(gpuText).join('; ') : gpus.error}`);
      const probe = await probeCudaSession(device.deviceId);
      out(`CUDA session    ${probeText(probe)}`);
      out(verdict(libraries, probe, 'gpus' in gpus ? gpus.gpus : []));
    });
}

function backendsText(): string {
  const backends = ort.listSupportedBackends?.() ?? [];
  if (backends.length === 0) return 'not reported by this onnxruntime-node';
  const bundled = backends.filter((b) => b.bundled).map((b) => b.name);
  const extra = backends.filter((b) => !b.bundled).map((b) => b.name);
  return `${bundled.join(', ')} (bundled)${extra.length ? `; ${extra.join(', ')} (need their provider libraries)` : ''}`;
}

/** The MatMul probe on the CPU EP, in this process: onnxruntime-node itself works. */
async function cpuCheck(): Promise<string> {
  const model = probeModels()[0];
  try {
    const session = await openSession(model.bytes, { device: 'cpu', where: 'the doctor probe model' });
    try {
      const { y } = await session.run({ x: Tensor.fromNumbers('float32', model.input.shape, model.input.data) });
      const diff = Math.max(...y.toNumbers().map((v, i) => Math.abs(v - model.expected[i])));
      return `ok (a MatMul+Tanh session ran; max |diff| ${diff.toExponential(1)})`;
    } finally {
      await session.close();
    }
  } catch (err) {
    return `failed: ${oneLine((err as Error).message)}`;
  }
}

function gpuText(g: GpuInfo): string {
  return `cuda:${g.index} ${g.name}, ${g.memory}, driver ${g.driver}`;
}

function probeText(p: CudaProbe): string {
  const on = `cuda:${p.deviceId}`;
  if (p.failure && p.cases.every((c) => !c.ok)) return `${on}: ${p.failure}`;
  const parts = p.cases.map((c) => (c.ok ? `${c.name} ok (max |diff| ${c.maxAbsDiff!.toExponential(1)})` : `${c.name} (${c.needs}) failed: ${c.error}`));
  if (p.loadError) parts.push(`onnxruntime could not load ${p.loadError.library}: ${p.loadError.reason}`);
  return `${on}: ${parts.join('; ')}`;
}

/** The last line: ready, or the one-line reason and fix. A working session outranks the static checks. */
function verdict(libraries: CudaLibraries, probe: CudaProbe, gpus: GpuInfo[]): string {
  const device = formatDevice({ kind: 'cuda', deviceId: probe.deviceId });
  const [core, conv] = probe.cases;
  if (core.ok) {
    const gpu = gpus.find((g) => g.index === probe.deviceId);
    const notes: string[] = [];
    if (!conv.ok) notes.push(`but ${conv.name} failed (${conv.needs}): ${conv.error}; ${cudaOnDemandNote(libraries) ?? 'check that cuDNN 9 for CUDA 13 is installed'}`);
    else {
      const note = cudaOnDemandNote(libraries);
      if (note) notes.push(`but ${note}`);
    }
    return `cuda: ready on ${device}${gpu ? ` (${gpu.name})` : ''}${notes.length ? `, ${notes.join('; ')}` : ''}`;
  }
  const problem = cudaProblem(libraries);
  if (problem) return `cuda: unavailable: ${problem}`;
  const missing = probe.loadError?.missing;
  if (missing) {
    const located = libraries.libraries.find((l) => l.name === missing);
    return `cuda: unavailable: onnxruntime could not load ${missing} (${probe.loadError!.reason}); ${libraryPathHint([located ?? { name: missing, role: 'required' }])}`;
  }
  const why = probe.failure ?? core.error ?? 'unknown failure';
  return `cuda: unavailable: onnxruntime could not create a CUDA session on ${device}: ${why}${gpus.length === 0 ? ' (nvidia-smi finds no GPU)' : ''}`;
}
