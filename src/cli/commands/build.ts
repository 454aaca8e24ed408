import { stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { Option, type Command } from 'commander';
import { DEFAULT_OPSET } from '../../ir/index.js';
import { exportModel } from '../../lower/artifacts.js';
import { fromGraphFile, loadModelSpec } from '../graph-file.js';
import { formatBytes, parseFraction, parseInteger } from '../options.js';

interface BuildFlags {
  out?: string;
  dtype: 'float32' | 'float64';
  opset?: number;
  seed: number;
  jvp?: boolean;
  spectral?: boolean;
  sweeps?: 'active' | 'dense';
  compactBelow?: number;
}

/**
 * `twnn build <graph.ts>`: export a graph file's model to `exported/<name>/`.
 *
 * @example registerBuild(program);
 */
export function registerBuild(program: Command): void {
  program
    .command('build')
    .description('export a model defined in a graph file (graphs/*.ts) to ONNX: model.onnx (inference), grad.onnx, train.onnx, train_steps.onnx and manifest.json')
    .argument('<graph>', 'TypeScript file whose default export is defineModel(...)')
    .option('-o, --out <dir>', 'output folder (default: exported/<graph file name>)')
    .addOption(new Option('--dtype <dtype>', 'float type of parameters and activations').choices(['float32', 'float64']).default('float32'))
    .option('--opset <n>', `ONNX default-domain opset (default: ${DEFAULT_OPSET})`, (v) => parseInteger(v, '--opset', 1))
    .option('--seed <n>', 'seed for parameter initialisation', (v) => parseInteger(v, '--seed', 0), 0)
    .option('--jvp', 'also write jvp.onnx: forward mode, inputs x and x_dot, outputs y and y_dot (its derivative along x_dot)')
    .option('--spectral', "also write spectral.onnx: per sample, each region's spectral radius of dF/dS at its fixed point (inputs x, power_steps and the parameters); twnn eval reports it")
    .addOption(
      new Option('--sweeps <mode>', "which samples each step of every region's Loops computes, overriding the graph file: the unsettled ones, or the whole batch (fewer ops per step: tiny batches, GPUs)").choices(['active', 'dense']),
    )
    .option(
      '--compact-below <f>',
      "with active sweeps, overriding the graph file: 1 gathers the unsettled rows every step; below 1 every region's Loops sweep a working set and gather a new one once fewer than this fraction of its rows still iterate (lazy compaction)",
      (v) => parseFraction(v, '--compact-below'),
    )
    .action(async (graphFile: string, flags: BuildFlags) => {
      const spec = await loadModelSpec(graphFile);
      const outDir = flags.out ?? join('exported', basename(graphFile, extname(graphFile)));
      const { files, manifest } = await fromGraphFile(graphFile, () =>
        exportModel(spec, outDir, {
          dtype: flags.dtype,
          seed: flags.seed,
          jvp: flags.jvp ?? false,
          spectral: flags.spectral ?? false,
          ...(flags.sweeps || flags.compactBelow !== undefined
            ? { regionOverrides: { ...(flags.sweeps ? { sweeps: flags.sweeps } : {}), ...(flags.compactBelow !== undefined ? { compactBelow: flags.compactBelow } : {}) } }
            : {}),
          ...(flags.opset !== undefined ? { opset: flags.opset } : {}),
        }),
      );
      const lines = [`built ${manifest.name} (${manifest.dtype}, opset ${manifest.opset}, seed ${manifest.seed})`];
      for (const f of files) lines.push(`  ${f}  ${formatBytes((await stat(f)).size)}`);
      const trainable = manifest.trainableParameterCount;
      lines.push(
        `parameters: ${manifest.parameterCount.toLocaleString('en-US')}` +
          (trainable !== manifest.parameterCount ? ` (${trainable.toLocaleString('en-US')} trainable)` : ''),
      );
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}

