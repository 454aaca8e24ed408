import { stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { Option, type Command } from 'commander';
import { TwnnError } from '../../common/errors.js';
import ora, { type Ora } from 'ora';
import { MODEL_FILE } from '../../contract/files.js';
import { printable } from '../../ir/text.js';
import { taskReport } from '../../report/task-report.js';
import type { EvalResult } from '../../runtime/metrics.js';
import type { SpectralSummary } from '../../runtime/spectral.js';
import { train, type TrainEvent, type TrainOptions, type TrainResult } from '../../runtime/trainer.js';
import { trainTorch, type TorchEngineOptions } from '../../runtime/torch/ddp.js';
import { LR_SCHEDULES, OPTIMIZER_KINDS, TRAIN_FALLBACKS, type LrSchedule, type OptimizerKind } from '../../common/training.js';
import { deviceFromFlags, deviceOption, tf32Option, type DeviceFlags } from '../device-option.js';
import { formatBytes, parseInteger, parsePositiveNumber } from '../options.js';
import { fromGraphFile, loadModelSpec } from '../graph-file.js';

interface TrainFlags extends DeviceFlags {
  epochs?: number;
  batch?: number;
  lr?: number;
  lrSchedule?: LrSchedule;
  optimizer?: OptimizerKind;
  seed?: number;
  out?: string;
  resume?: boolean;
  checkpointEvery?: number;
  limitSteps?: number;
  spectral?: boolean;
  engine?: 'onnx' | 'torch';
  nprocPerNode?: number;
  nnodes?: number;
  nodeRank?: number;
  rdzvEndpoint?: string;
  rdzvTimeout?: number;
  masterAddr?: string;
  masterPort?: number;
  maxRestarts?: number;
  python?: string;
}

/** The flags of `--engine torch` alone, as TrainFlags keys and as the user types them. */
const TORCH_FLAGS = [
  ['nprocPerNode', '--nproc-per-node'], ['nnodes', '--nnodes'], ['nodeRank', '--node-rank'], ['rdzvEndpoint', '--rdzv-endpoint'], ['rdzvTimeout', '--rdzv-timeout'],
  ['masterAddr', '--master-addr'], ['masterPort', '--master-port'], ['maxRestarts', '--max-restarts'], ['python', '--python'],
] as const;

/** Without a terminal, a progress line at most this often (plus one per epoch), so CI logs stay short. */
const PLAIN_PROGRESS_SECONDS = 15;
/** How often the terminal spinner's text is refreshed. */
const SPINNER_REFRESH_MS = 100;

/**
 * `twnn train <graph.ts>`: export a model and train it on its task's data.
 *
 * @example registerTrain(program);
 */
export function registerTrain(program: Command): void {
  program
    .command('train')
    .description(
      "train a model defined in a graph file on its task's data (task.data) through its exported train.onnx; " +
        'writes the export, metrics.jsonl and checkpoint.twnn to the output folder, and the trained weights into model.onnx',
    )
    .argument('<graph>', 'TypeScript file whose default export is defineModel(...) with a task')
    .option('--epochs <n>', `epochs (default: task.train.epochs, else ${TRAIN_FALLBACKS.epochs})`, (v) => parseInteger(v, '--epochs', 1))
    .option('--batch <n>', `mini-batch size (default: task.train.batch, else ${TRAIN_FALLBACKS.batch})`, (v) => parseInteger(v, '--batch', 1))
    .option('--lr <x>', `learning rate (default: task.train.lr, else ${TRAIN_FALLBACKS.lr})`, (v) => parsePositiveNumber(v, '--lr'))
    .addOption(
      new Option(
        '--lr-schedule <name>',
        `learning-rate schedule: constant, or cosine decay to 0 over all planned steps (default: task.train.lrSchedule, else ${TRAIN_FALLBACKS.lrSchedule})`,
      ).choices(LR_SCHEDULES),
    )
    .addOption(new Option('--optimizer <name>', `optimizer (default: task.train.optimizer, else ${TRAIN_FALLBACKS.optimizer})`).choices(OPTIMIZER_KINDS))
    .option('--seed <n>', `seed for parameter initialisation and shuffling (default: ${TRAIN_FALLBACKS.seed})`, (v) => parseInteger(v, '--seed', 0))
    .addOption(deviceOption())
    .addOption(tf32Option())
    .option('-o, --out <dir>', 'output folder (default: exported/<graph file name>)')
    .option('--resume', 'continue from <out>/checkpoint.twnn (settings not given are taken from the checkpoint; the result is the same as an uninterrupted run)')
    .option('--checkpoint-every <n>', 'also write a checkpoint every n steps (one is always written at the end of each epoch and of the run)', (v) =>
      parseInteger(v, '--checkpoint-every', 1),
    )
    .option('--limit-steps <n>', 'stop after n optimizer steps in all (counting those before a resume)', (v) => parseInteger(v, '--limit-steps', 1))
    .option('--spectral', "also export spectral.onnx and, after each epoch, log each region's spectral radius of dF/dS (mean, max over the first 256 test samples) in metrics.jsonl and the epoch line")
    .addOption(new Option('--engine <name>', 'what takes the steps: onnx (train.onnx in onnxruntime-node) or torch (the PyTorch twin under torchrun, DistributedDataParallel on gloo; README "Training on PyTorch DDP")').choices(['onnx', 'torch']).default('onnx'))
    .option('--nproc-per-node <n>', '--engine torch: worker processes on this node (default 1); each takes batch / world size rows of every batch', (v) => parseInteger(v, '--nproc-per-node', 1))
    .option('--nnodes <n>', '--engine torch: nodes in the run (default 1); run the same command on each', (v) => parseInteger(v, '--nnodes', 1))
    .option('--node-rank <n>', "--engine torch: this node's rank with --master-addr", (v) => parseInteger(v, '--node-rank', 0))
    .option('--rdzv-endpoint <host:port>', '--engine torch: c10d rendezvous every node joins')
    .option('--rdzv-timeout <s>', '--engine torch: seconds to wait for the other nodes at the rendezvous (default 600)', (v) => parseInteger(v, '--rdzv-timeout', 1))
    .option('--master-addr <host>', "--engine torch: node 0's address for a static rendezvous")
    .option('--master-port <n>', "--engine torch: node 0's port (default 29500)", (v) => parseInteger(v, '--master-port', 1, 65535))
    .option('--max-restarts <n>', '--engine torch: restarts of a failed worker group, each from the last checkpoint (default 0)', (v) => parseInteger(v, '--max-restarts', 0))
    .option('--python <path>', '--engine torch: the python that has torch (default: $TWNN_PYTHON, else /usr/bin/python3)')
    .action(async (graphFile: string, flags: TrainFlags) => {
      const stray = flags.engine !== 'torch' ? TORCH_FLAGS.find(([key]) => flags[key] !== undefined) : undefined;
      if (stray) throw new TwnnError(`${stray[1]} is a flag of --engine torch`);
      const device = deviceFromFlags(flags);
      const spec = await loadModelSpec(graphFile);
      const outDir = flags.out ?? join('exported', basename(graphFile, extname(graphFile)));
      // A pseudo-terminal without a size (columns 0) would make the spinner's line arithmetic meaningless.
      // torchrun's ranks print on the same terminal: plain lines, no spinner to redraw over them.
      const progress = new Progress(flags.engine !== 'torch' && Boolean(process.stdout.isTTY) && (process.stdout.columns ?? 0) > 0);
      let result: TrainResult;
      try {
        result = await fromGraphFile(graphFile, () => (flags.engine === 'torch' ? (o: TrainOptions) => trainTorch(o, torchEngine(flags)) : train)({
          spec,
          outDir,
          device,
          ...definedOnly({
            epochs: flags.epochs,
            batch: flags.batch,
            lr: flags.lr,
            lrSchedule: flags.lrSchedule,
            optimizer: flags.optimizer,
            seed: flags.seed,
            resume: flags.resume,
            checkpointEvery: flags.checkpointEvery,
            limitSteps: flags.limitSteps,
            spectral: flags.spectral,
          }),
          onProgress: (e) => progress.on(e),
        }));
      } finally {
        progress.stop();
      }
      process.stdout.write(await summary(result));
      // The task's own numbers and pictures (the sine task's free-running generation), from the exported model.
      const data = spec.task?.data;
      const report = data && (await taskReport({ data, model: join(outDir, MODEL_FILE), outDir, device }));
      if (report) process.stdout.write(report);
    });
}

/**
 * Progress on stdout: an ora spinner updated in place on a terminal; plain
 * lines otherwise (ora prints nothing for a spinner there), one per epoch and
 * at most one every 15 seconds in between.
 */
class Progress {
  private readonly spinner: Ora;
  private lastPlain = performance.now();
  private lastRender = 0;

  constructor(private readonly tty: boolean) {
    this.spinner = ora({ stream: process.stdout, isEnabled: tty, discardStdin: false });
  }

  on(e: TrainEvent): void {
    switch (e.kind) {
      case 'start': {
        const c = e.config;
        const dtype = e.dtypeFromCheckpoint ? ` in ${c.dtype} (the checkpoint's dtype)` : '';
        const from = e.resumedAtStep !== undefined ? `, resuming after step ${e.resumedAtStep}${dtype}` : '';
        this.persist(
          `training ${c.model}: ${c.epochs} epoch${c.epochs > 1 ? 's' : ''} of ${e.batchesPerEpoch} steps (batch ${c.batch}, ${e.trainSize} train / ${e.testSize} test examples), ` +
            `${c.optimizer} lr ${c.lr}${c.lrSchedule === 'constant' ? '' : ` (${c.lrSchedule})`}, seed ${c.seed}${from}`,
        );
        if (this.tty) this.spinner.start('starting');
        return;
      }
      case 'step': {
        const text =
          `epoch ${e.epoch}/${e.epochs} step ${e.position}/${e.batchesPerEpoch} (${e.step}/${e.totalSteps}) loss ${fmt(e.loss)} ` +
          `iterations ${e.iterations.toFixed(2)} fwd / ${e.iterationsBackward.toFixed(2)} bwd${e.unsettled > 0 ? ` (${e.unsettled} unsettled)` : ''}, ` +
          `${Math.round(e.samplesPerSecond)} samples/s, ETA ${duration(e.etaSeconds)}`;
        const now = performance.now();
        if (this.tty) {
          if (now - this.lastRender >= SPINNER_REFRESH_MS) {
            this.spinner.text = text;
            this.lastRender = now;
          }
        } else if (now - this.lastPlain >= PLAIN_PROGRESS_SECONDS * 1000) {
          this.persist(text);
        }
        return;
      }
      case 'epoch':
        this.persist(`epoch ${e.epoch}/${e.epochs}: train loss ${fmt(e.trainLoss)}, test ${testText(e.test)}${unsettledNote(e.test)}${spectralNote(e.spectral)} (${duration(e.seconds)} training so far)`);
        return;
      case 'checkpoint':
        return;
      case 'warning': {
        // On stderr, beside the progress on stdout; the spinner's line is redrawn after it.
        const spinning = this.spinner.isSpinning;
        if (spinning) this.spinner.clear();
        process.stderr.write(`twnn: warning: ${printable(e.message)}\n`);
        if (spinning) this.spinner.render();
        return;
      }
    }
  }

  stop(): void {
    if (this.spinner.isSpinning) this.spinner.stop();
  }

  private persist(line: string): void {
    this.lastPlain = performance.now();
    const spinning = this.spinner.isSpinning;
    this.spinner.stopAndPersist({ symbol: '', text: line });
    if (spinning) this.spinner.start();
  }
}

/** `, spectral radius region1 mean 0.41 max 0.87` for `--spectral`'s epoch line. */
function spectralNote(regions: readonly SpectralSummary[] | undefined): string {
  return (regions ?? []).map((r) => `, spectral radius ${printable(r.region)} mean ${r.mean.toFixed(3)} max ${r.max.toFixed(3)}`).join('');
}

async function summary(r: TrainResult): Promise<string> {
  const lines = [
    `trained ${r.config.model}: ${r.steps} steps (${Number(r.epochsRun.toPrecision(3))} epoch${r.epochsRun === 1 ? '' : 's'})`,
    `  final train loss ${fmt(r.trainLoss)}`,
    `  test: ${testText(r.test)}${unsettledNote(r.test)}`,
    `  time per epoch ${duration(r.secondsPerEpoch)}`,
    'files:',
  ];
  for (const f of r.files) lines.push(`  ${f}  ${formatBytes((await stat(f)).size)}`);
  return `${lines.join('\n')}\n`;
}

/** The test result as one phrase (shared with `twnn eval`). @example testText(result) // 'loss 0.0632962, accuracy 98.09% on 10000 examples' */
export function testText(t: EvalResult): string {
  const accuracy = t.accuracy !== undefined ? `, accuracy ${(t.accuracy * 100).toFixed(2)}%` : '';
  return `loss ${fmt(t.loss)}${accuracy} on ${t.samples} examples`;
}

/** ", 3 of them unsettled" when some test samples ran out of sweeps unsettled (any region), else nothing. */
function unsettledNote(t: EvalResult): string {
  const n = t.unsettled.reduce((sum, u) => sum + u.count, 0);
  return n > 0 ? `, ${n} of them unsettled` : '';
}

/** Six significant digits. @example fmt(0.000123456789) // '0.000123457' */
export function fmt(n: number): string {
  return Number.isFinite(n) ? String(Number(n.toPrecision(6))) : String(n);
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const m = Math.floor(seconds / 60);
  return m < 60 ? `${m}m${String(Math.round(seconds % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** The torchrun settings of `--engine torch`. */
function torchEngine(flags: TrainFlags): TorchEngineOptions {
  return {
    nprocPerNode: flags.nprocPerNode ?? 1,
    ...definedOnly({
      nnodes: flags.nnodes, nodeRank: flags.nodeRank, rdzvEndpoint: flags.rdzvEndpoint, rdzvTimeout: flags.rdzvTimeout,
      masterAddr: flags.masterAddr, masterPort: flags.masterPort, maxRestarts: flags.maxRestarts, python: flags.python,
    }),
  };
}

function definedOnly<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
