import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Option, type Command } from 'commander';
import { loadTaskData } from '../../data/datasets.js';
import { TwnnError } from '../../common/errors.js';
import { MANIFEST_FILE, SPECTRAL_FILE } from '../../contract/files.js';
import type { Manifest } from '../../contract/manifest.js';
import { manifestBeside } from '../../contract/read-manifest.js';
import { verifyModelBytes } from '../../contract/verify.js';
import { readInitializers, readModelBytes, readModelFile } from '../../onnx/load.js';
import { taskReport } from '../../report/task-report.js';
import { checkSettled, regionLimits, unsettledSummary } from '../../runtime/guard.js';
import { evaluate } from '../../runtime/metrics.js';
import { openSession, type TwnnSession } from '../../runtime/session.js';
import { skipSummary, skipThresholds } from '../../runtime/skip-rates.js';
import { spectralSummary, spectralText } from '../../runtime/spectral.js';
import { DEFAULT_POWER_STEPS } from '../../lower/spectral.js';
import type { Device } from '../../runtime/device.js';
import { EVAL_BATCH } from '../../common/training.js';
import type { DataSpec, LossKind } from '../../twnn/task.js';
import { budgetFromFlags, maxIterOption, tolOption, type BudgetFlags } from '../budget-option.js';
import { limitsUnderBudget } from '../../runtime/budget.js';
import { deviceFromFlags, deviceOption, tf32Option, type DeviceFlags } from '../device-option.js';
import { noVerifyOption, parseInteger } from '../options.js';
import { superviseTimeout, timeoutOption } from '../timeout.js';
import { testText } from './train.js';
import { printable } from '../../ir/text.js';
import { lossForData } from '../../twnn/task.js';

interface EvalFlags extends DeviceFlags, BudgetFlags {
  data?: 'mnist' | 'fashion-mnist' | 'sine';
  split: 'test' | 'train';
  batch: number;
  report?: string;
  verify: boolean;
  timeout?: number;
  spectral?: string;
  spectralSamples: number;
  powerSteps: number;
}

/**
 * `twnn eval <model.onnx>`: loss (and accuracy) of a model on its data set,
 * per fixed-point region the samples that ran all maxIter sweeps without
 * settling (a line each on stdout; an error, exit 2, once the whole split is
 * evaluated, for a region whose iterate.onMaxIter is 'error'), under the
 * built budget or the one `--tol` / `--max-iter` set, and, with a
 * spectral.onnx, the mean and max spectral radius of its dF/dS.
 *
 * @example registerEval(program);
 */
export function registerEval(program: Command): void {
  program
    .command('eval')
    .description(
      "evaluate a model on a data set: loss computed from its output 'y' (mse, or cross-entropy and accuracy for classification) " +
        "and the mean/max of its 'iterations' output; with a spectral.onnx (twnn build --spectral), the mean/max spectral radius of each region's dF/dS at the fixed point; " +
          'the task comes from the manifest.json beside the model unless --data is given',
    )
    .argument('<model>', 'the .onnx file (e.g. exported/sine-mlp/model.onnx)')
    .addOption(new Option('--data <name>', "data set (default: the manifest's task.data); mnist's layout and sine's window follow the model's input x").choices(['mnist', 'fashion-mnist', 'sine']))
    .addOption(new Option('--split <split>', 'which split').choices(['test', 'train']).default('test'))
    .option('--batch <n>', 'rows per inference run', (v) => parseInteger(v, '--batch', 1), EVAL_BATCH)
    .option('--report <dir>', "also write the task report's pictures and report.json to this folder (sine: the generated wave and the sweeps histogram)")
    .option('--spectral <file>', "the spectral.onnx to report each region's spectral radius with (default: the one in the model's export, if it has one); one built from the same graph file fits, as it takes the weights as inputs")
    .option('--spectral-samples <n>', 'with a spectral.onnx: the first this many samples of the split are measured', (v) => parseInteger(v, '--spectral-samples', 1), SPECTRAL_SAMPLES)
    .option('--power-steps <n>', "with a spectral.onnx: power iterations per estimate (more: closer when eigenvalues crowd the largest)", (v) => parseInteger(v, '--power-steps', 0), DEFAULT_POWER_STEPS)
    .addOption(tolOption())
    .addOption(maxIterOption())
    .addOption(deviceOption())
    .addOption(tf32Option())
    .addOption(noVerifyOption())
    .addOption(timeoutOption())
    .action(async (model: string, flags: EvalFlags) => {
      await superviseTimeout(flags.timeout, model);
      const device = deviceFromFlags(flags);
      if (flags.report !== undefined && flags.split !== 'test') throw new TwnnError('--report scores the test split; it cannot go with --split train');
      const task = await manifestTask(model, flags.verify !== false);
      // Checked once, just above: the session opens the same bytes.
      const session = await openSession(model, { device, verify: false, budget: budgetFromFlags(flags) });
      try {
        const proto = await readModelFile(model);
        const regions = limitsUnderBudget(regionLimits(proto), session.budget);
        const { data, loss } = chooseData(model, session, flags.data, task);
        const dtype = session.input('x')?.type === 'float64' ? 'float64' : 'float32';
        const dataset = await loadTaskData(data, flags.split, dtype);
        const result = await evaluate(session, dataset, loss, flags.batch, regions, skipThresholds(proto));
        const hasIterations = session.outputNames.includes('iterations');
        const lines = [
          `${model} on ${dataset.name} (${loss}): ${testText(result)}`,
          hasIterations ? `iterations: mean ${result.iterationsMean.toFixed(2)}, max ${result.iterationsMax}` : 'iterations: the model has no iterations output',
        ];
        const verify = flags.verify !== false;
        const spectral = flags.spectral !== undefined ? await openSession(flags.spectral, { device, verify }) : await spectralBeside(model, { device, verify });
        if (spectral) {
          const run = { data: dataset, samples: flags.spectralSamples, batch: flags.batch, weights: readInitializers(proto, model), regions: regions.map((r) => r.region), powerSteps: flags.powerSteps };
          try {
            lines.push(...(await spectralSummary(spectral, run)).map(spectralText));
          } finally {
            await spectral.close();
          }
        }
        if (result.skipRates.length > 0) lines.push(skipSummary(result.skipRates));
        for (const u of result.unsettled) if (u.count > 0) lines.push(unsettledSummary(u));
        // One line each, naming the model's regions: escaped (issue 13).
        process.stdout.write(`${lines.map(printable).join('\n')}\n`);
        checkSettled(result.unsettled, `${model} on ${dataset.name}`);
        // The task's report (sine: free-running generation) scores the test split, so it goes with --split test only.
        const report = flags.split === 'test' ? await taskReport({ data, model: session, ...(flags.report !== undefined ? { outDir: flags.report } : {}) }) : undefined;
        if (report) process.stdout.write(report);
        else if (flags.report !== undefined) throw new TwnnError(`--report: ${data.kind} tasks have no report`);
      } finally {
        await session.close();
      }
    });
}

/**
 * The task of the manifest beside `model`, when that manifest describes it:
 * with `verify`, when the file is one it lists byte for byte (else the
 * check's error); without, when it lists the file's name. Undefined when
 * there is no manifest, or it does not describe the file.
 */
async function manifestTask(model: string, verify: boolean): Promise<{ loss?: LossKind; data?: DataSpec } | undefined> {
  let manifest: Manifest | undefined;
  if (verify) {
    const v = await verifyModelBytes(model, await readModelBytes(model));
    manifest = v.status === 'verified' ? v.manifest : undefined;
  } else {
    const beside = await manifestBeside(model, '--no-verify does not skip it: fix or remove it');
    manifest = beside?.files?.[basename(model)] ? beside : undefined;
  }
  const task = manifest?.task;
  return manifest ? (task ? { loss: task.loss, ...(task.data ? { data: task.data } : {}) } : {}) : undefined;
}

/** How many samples eval measures spectral.onnx on by default: each costs power-steps VJPs of every region's sweep. */
const SPECTRAL_SAMPLES = 1000;

/**
 * A session of the spectral.onnx beside `model` when the manifest there lists
 * both (one export), else undefined: eval says nothing about the spectral
 * radius of an export built without it.
 */
async function spectralBeside(model: string, options: { device: Device; verify: boolean }): Promise<TwnnSession | undefined> {
  const path = join(dirname(model), SPECTRAL_FILE);
  if (!existsSync(path)) return undefined;
  const manifest = await manifestBeside(model, '--no-verify does not skip it: fix or remove it');
  if (!manifest?.files?.[basename(model)] || !manifest.files[SPECTRAL_FILE]) return undefined;
  return openSession(path, options);
}

/** The data set and loss: `--data` shaped after the model's input, else the manifest's task. */
function chooseData(model: string, session: TwnnSession, name: EvalFlags['data'], task: { loss?: LossKind; data?: DataSpec } | undefined): { data: DataSpec; loss: LossKind } {
  if (!name) {
    if (!task?.data) {
      const why = task
        ? `its ${MANIFEST_FILE} has no task.data`
        : existsSync(join(dirname(model), MANIFEST_FILE))
          ? `the ${MANIFEST_FILE} beside it does not list it`
          : `there is no ${MANIFEST_FILE} beside it`;
      throw new TwnnError(`${model}: ${why}; say which data set with --data mnist|fashion-mnist|sine`);
    }
    return { data: task.data, loss: task.loss ?? lossForData(task.data.kind) };
  }
  const shape = session.input('x')?.shape;
  if (!shape) throw new TwnnError(`${model}: the model has no input 'x' with a declared shape, which --data needs`);
  if (name === 'mnist' || name === 'fashion-mnist') {
    const flat = shape.length === 2 && shape[1] === 784;
    const image = shape.length === 4 && shape[1] === 1 && shape[2] === 28 && shape[3] === 28;
    if (!flat && !image) throw new TwnnError(`${model}: --data ${name} needs an input x of [B,784] or [B,1,28,28], the model's is [${shape.join(',')}]`);
    return { data: { kind: name, layout: flat ? 'flat' : 'image' }, loss: 'cross_entropy' };
  }
  if (shape.length !== 2 || typeof shape[1] !== 'number') throw new TwnnError(`${model}: --data sine needs an input x of [B,window], the model's is [${shape.join(',')}]`);
  // Keep the series length the model was trained with when the manifest says so.
  const length = task?.data?.kind === 'sine' ? task.data.length : undefined;
  return { data: { kind: 'sine', window: shape[1], ...(length !== undefined ? { length } : {}) }, loss: 'mse' };
}

