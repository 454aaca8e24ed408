// `twnn train --engine torch`: the steps of a twnn run taken by the PyTorch
// twin under torchrun (DistributedDataParallel, gloo), between twnn's own start
// and finish of the run (src/runtime/trainer.ts):
//
//   startRun     settings, the export (model.onnx holds the initial weights),
//                the data, the checkpoint of a resumed run — as `twnn train`;
//   this file    writes the run's description into <out>/torch/ (the twin's
//                arch, the resolved optimizer, each epoch's seeded order, each
//                step's lr, the data as .npy), checks that the python can
//                build the twin, and runs torchrun on python/twnn_ddp.py;
//                the ranks write metrics.jsonl and checkpoint.twnn;
//   finishRun    reads the last checkpoint back, writes its weights into
//                model.onnx through twnn's own export, and evaluates it in
//                onnxruntime-node.
//
// Nothing here steps a model: the trajectory is the twin's, and its agreement
// with train.onnx is what test/cli/train-torch.test.ts checks.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TwnnError } from '../../common/errors.js';
import { positiveInteger } from '../../common/checks.js';
import { TRAIN_FALLBACKS } from '../../common/training.js';
import { writeFilesAtomic } from '../../common/files.js';
import { withFolderLock } from '../../common/folder-lock.js';
import { shuffledOrder } from '../../data/batches.js';
import { writeNpy } from '../../data/npy.js';
import { Tensor } from '../../ir/tensor.js';
import { buildInferenceGraph } from '../../lower/inference.js';
import { loadCheckpoint } from '../checkpoint.js';
import { checkResumed } from '../train-tensors.js';
import { finishRun, learningRate, METRICS_FILE, startRun, type Run, type TrainOptions, type TrainResult } from '../trainer.js';
import { describeForTorch, type TorchArch } from './arch.js';

/** The trainer torchrun runs, shipped in the package beside dist/ (src/runtime/torch/ and dist/runtime/torch/ both sit three folders below it). */
export const DDP_SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'python', 'twnn_ddp.py');
/** torchrun, with torch 1.13's Python 3.11 fix (python/twnn_torchrun.py). */
const TORCHRUN_SCRIPT = join(dirname(DDP_SCRIPT), 'twnn_torchrun.py');
/** The python that runs torchrun when neither `python` nor TWNN_PYTHON names one: Debian's, which sees python3-torch. */
export const DEFAULT_PYTHON = '/usr/bin/python3';
/** The run's description and data, in the output folder (every node writes its own). */
export const TORCH_RUN_DIR = 'torch';

/** The arrays written beside run.json for the ranks. */
const RUN_ARRAYS = ['orders.npy', 'train-x.npy', 'train-target.npy', 'test-x.npy', 'test-target.npy'] as const;

/** How torchrun is launched: this node's share of the world and how the nodes meet. */
export interface TorchEngineOptions {
  /** Worker processes on this node (torchrun --nproc_per_node). */
  nprocPerNode: number;
  /** Nodes in the run (default 1). */
  nnodes?: number;
  /** This node's rank, 0 … nnodes−1 (static rendezvous with masterAddr). */
  nodeRank?: number;
  /** host:port of a c10d rendezvous (every node gives the same). */
  rdzvEndpoint?: string;
  /** Node 0's address and port for a static rendezvous (with nodeRank). */
  masterAddr?: string;
  masterPort?: number;
  /** Times torchrun restarts a failed worker group; each restart continues from checkpoint.twnn. */
  maxRestarts?: number;
  /** Seconds a node waits for the others at the rendezvous (torchrun's join_timeout, or the static rendezvous' timeout; default 600). */
  rdzvTimeout?: number;
  /** The python with torch (default: $TWNN_PYTHON, else /usr/bin/python3). */
  python?: string;
}

/**
 * Train `options.spec` with the PyTorch twin under torchrun: W = nprocPerNode ×
 * nnodes ranks each take B/W rows of every global batch of `twnn train`'s
 * seeded order, and DDP averages their gradients, so the run follows the
 * steps one process takes at batch B. Writes metrics.jsonl, checkpoint.twnn
 * and the export with the trained weights as `train()` does.
 *
 * @example
 * const result = await trainTorch({ spec, outDir: 'exported/sine', limitSteps: 20 }, { nprocPerNode: 2 });
 * console.log(result.test.loss);
 */
export async function trainTorch(options: TrainOptions, engine: TorchEngineOptions): Promise<TrainResult> {
  const world = worldSize(engine);
  const python = engine.python ?? process.env.TWNN_PYTHON ?? DEFAULT_PYTHON;
  refuseUnsupported(options);
  // Before anything is written: what the twin cannot express, a python without torch, a batch the world cannot share.
  const built = buildInferenceGraph(options.spec, { dtype: options.dtype ?? 'float32', seed: options.seed ?? 0 });
  const arch = describeForTorch(options.spec, built.graph, built.params);
  const batch = options.batch ?? options.spec.task?.train?.batch ?? (options.resume ? undefined : TRAIN_FALLBACKS.batch);
  if (batch !== undefined) checkBatch(batch, world);
  if (world > 1 && hasBatchNorm(arch)) {
    throw new TwnnError(`model '${options.spec.name}' has batch norm: on ${world} ranks each would normalise over its shard, not the batch, and the run would not be twnn's; train it with --nproc-per-node 1`);
  }
  preflight(python, arch);
  return withFolderLock(options.outDir, 'train', async () => {
    const run = await startRun(options);
    // A fresh run starts over: a restarted worker group must not pick up an older run's checkpoint.
    if (!run.resumed) await rm(run.checkpointPath, { force: true });
    checkBatch(run.config.batch, world);
    const last = run.trainSize % run.config.batch;
    if (last !== 0 && last < world) throw new TwnnError(`the last batch of each epoch has ${last} example${last > 1 ? 's' : ''} (${run.trainSize} % ${run.config.batch}), fewer than the ${world} ranks; choose another --batch`);
    const runFile = await writeRunDescription(run, world, arch);
    await torchrun(python, engine, runFile);
    // The data's copies only serve the ranks (a restart reads them again); run.json stays as the run's record.
    for (const name of RUN_ARRAYS) await rm(join(dirname(runFile), name), { force: true });
    const ckpt = await loadCheckpoint(run.checkpointPath);
    run.tensors = checkResumed(ckpt, run.layout, run.checkpointPath);
    run.position = ckpt.position;
    run.checkpointedAt = ckpt.position.step;
    run.lastTest = undefined;
    return finishRun(run);
  });
}

/** nprocPerNode × nnodes, the flags checked. */
function worldSize(e: TorchEngineOptions): number {
  const nodes = positiveInteger(e.nnodes ?? 1, 'nnodes');
  const world = positiveInteger(e.nprocPerNode, 'nprocPerNode') * nodes;
  if (e.maxRestarts !== undefined && !(Number.isInteger(e.maxRestarts) && e.maxRestarts >= 0)) throw new TwnnError(`maxRestarts must be a count (0 or more), got ${e.maxRestarts}`);
  if (e.nodeRank !== undefined && !(Number.isInteger(e.nodeRank) && e.nodeRank >= 0 && e.nodeRank < nodes)) {
    throw new TwnnError(`nodeRank must be 0 … ${nodes - 1} for ${nodes} node${nodes > 1 ? 's' : ''}, got ${e.nodeRank}`);
  }
  if (nodes > 1 && !e.rdzvEndpoint && !e.masterAddr) throw new TwnnError(`${nodes} nodes need a place to meet: give --rdzv-endpoint host:port (or --master-addr with --node-rank)`);
  if (e.masterAddr && e.nodeRank === undefined && nodes > 1) throw new TwnnError('--master-addr needs --node-rank (this node\'s rank) when there are several nodes');
  return world;
}

/** What the twin's trainer does not do, refused before anything is written. */
function refuseUnsupported(options: TrainOptions): void {
  const device = typeof options.device === 'string' ? options.device : (options.device?.kind ?? 'cpu');
  if (device !== 'cpu') throw new TwnnError(`--engine torch trains on the CPU (gloo); the twin has no ${device} path yet, so --device ${device} is refused`);
  if (options.dtype === 'float64') throw new TwnnError('--engine torch trains in float32 (the twin\'s modules are float32); dtype float64 is refused');
  if (options.spectral) throw new TwnnError('--engine torch does not log spectral radii; run without --spectral');
  if (options.data) throw new TwnnError('--engine torch trains on the task\'s data set (task.data), not on data given in process');
}

/** Every rank takes an equal share of every batch. */
function checkBatch(batch: number, world: number): void {
  if (batch % world !== 0) throw new TwnnError(`batch ${batch} is not divisible by the world size ${world}: each of the ${world} ranks takes an equal share of every batch; choose --batch a multiple of ${world}`);
}

function hasBatchNorm(arch: TorchArch): boolean {
  return JSON.stringify(arch).includes('"kind":"batchNorm2d"');
}

/** <out>/torch/run.json and the arrays it names; returns run.json's path. */
async function writeRunDescription(run: Run, world: number, arch: TorchArch): Promise<string> {
  const dir = join(run.outDir, TORCH_RUN_DIR);
  const file = (name: string) => resolve(dir, name);
  const { config } = run;
  const planned = config.epochs * run.batchesPerEpoch;
  const orders = new BigInt64Array(config.epochs * run.trainSize);
  for (let e = 0; e < config.epochs; e++) orders.set(Array.from(shuffledOrder(run.trainSize, config.seed, e), BigInt), e * run.trainSize);
  const layout = run.layout;
  const description = {
    model: resolve(run.outDir, 'model.onnx'),
    checkpoint: resolve(run.checkpointPath),
    metrics: resolve(run.outDir, METRICS_FILE),
    arch,
    loss: run.loss,
    optimizer: run.exported.manifest.training.optimizer,
    fpCorrection: run.exported.manifest.training.fpCorrection ?? null,
    config,
    resume: run.resumed,
    position: run.position,
    batch: config.batch,
    epochs: config.epochs,
    batchesPerEpoch: run.batchesPerEpoch,
    totalSteps: run.totalSteps,
    checkpointEvery: run.options.checkpointEvery ?? null,
    evalBatch: run.evalBatch,
    lrs: Array.from({ length: run.totalSteps }, (_, i) => learningRate(config, i + 1, planned)),
    worldSize: world,
    layout: { trainable: layout.trainable.map((p) => p.name), slots: Object.fromEntries(layout.slots), buffers: layout.buffers.map((b) => b.name) },
    orders: file('orders.npy'),
    data: { trainX: file('train-x.npy'), trainTarget: file('train-target.npy'), testX: file('test-x.npy'), testTarget: file('test-target.npy') },
  };
  const arrays: Record<(typeof RUN_ARRAYS)[number], Tensor> = {
    'orders.npy': new Tensor('int64', [config.epochs, run.trainSize], orders),
    'train-x.npy': run.data.train.x,
    'train-target.npy': run.data.train.target,
    'test-x.npy': run.data.test.x,
    'test-target.npy': run.data.test.target,
  };
  await writeFilesAtomic([...RUN_ARRAYS.map((name) => [file(name), writeNpy(arrays[name])] as const), [file('run.json'), `${JSON.stringify(description, null, 1)}\n`]]);
  return file('run.json');
}

/** The python runs, has torch, and builds the twin of this model (refusals by name), before anything is written. */
function preflight(python: string, arch: TorchArch): void {
  if (!existsSync(DDP_SCRIPT)) throw new TwnnError(`--engine torch: the trainer ${DDP_SCRIPT} is missing from this installation`);
  const r = spawnSync(python, [DDP_SCRIPT, '--check', '-'], { encoding: 'utf8', input: JSON.stringify({ arch }) });
  if (r.error) throw new TwnnError(`--engine torch: cannot run python '${python}' (${(r.error as NodeJS.ErrnoException).code ?? r.error.message}); give the python that has torch with --python or TWNN_PYTHON`);
  if (r.status === 0) return;
  const missing = /ModuleNotFoundError: No module named '([^']+)'/.exec(r.stderr);
  if (missing) throw new TwnnError(`--engine torch: python '${python}' has no module '${missing[1]}' (it needs torch, numpy and onnx; Debian: apt install python3-torch python3-onnx); give another with --python or TWNN_PYTHON`);
  throw new TwnnError(`--engine torch: ${ownError(r.stderr) ?? `the twin could not be built by ${python} (exit ${r.status}): ${tail(r.stderr)}`}`);
}

/**
 * torchrun's arguments for this node. One node with no meeting place given meets on
 * `localPort` (a free port of this machine) when one is passed: `--standalone` always
 * takes port 29400, so two runs on one machine (or two test files) would collide.
 *
 * @example torchrunArgs({ nprocPerNode: 2 }, 'run.json', 41234) // [..., '--rdzv_endpoint=localhost:41234', ...]
 */
export function torchrunArgs(e: TorchEngineOptions, runFile: string, localPort?: number): string[] {
  const nodes = e.nnodes ?? 1;
  const args = [TORCHRUN_SCRIPT, `--nproc_per_node=${e.nprocPerNode}`, `--nnodes=${nodes}`, `--max_restarts=${e.maxRestarts ?? 0}`];
  const wait = e.rdzvTimeout;
  if (e.rdzvEndpoint) {
    args.push('--rdzv_backend=c10d', `--rdzv_endpoint=${e.rdzvEndpoint}`, '--rdzv_id=twnn');
    if (wait !== undefined) args.push(`--rdzv_conf=join_timeout=${wait},read_timeout=${wait}`);
  } else if (e.masterAddr || e.masterPort !== undefined) {
    args.push(`--node_rank=${e.nodeRank ?? 0}`, `--master_addr=${e.masterAddr ?? '127.0.0.1'}`, `--master_port=${e.masterPort ?? 29500}`);
    if (wait !== undefined) args.push(`--rdzv_conf=timeout=${wait}`);
  } else if (nodes === 1 && localPort !== undefined) {
    args.push('--rdzv_backend=c10d', `--rdzv_endpoint=localhost:${localPort}`, `--rdzv_id=twnn-${process.pid}-${localPort}`);
  } else if (nodes === 1) {
    args.push('--standalone');
  }
  return [...args, DDP_SCRIPT, runFile];
}

/** A TCP port of this machine that nothing listens on now (the OS picks it). */
function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => done(port));
    });
  });
}

/** Run torchrun, its output passed through; a failure becomes a TwnnError with the trainer's own message where it gave one. */
async function torchrun(python: string, e: TorchEngineOptions, runFile: string): Promise<void> {
  const local = (e.nnodes ?? 1) === 1 && !e.rdzvEndpoint && !e.masterAddr && e.masterPort === undefined;
  const child = spawn(python, torchrunArgs(e, runFile, local ? await freePort() : undefined), { stdio: ['ignore', 'inherit', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    process.stderr.write(d);
    stderr = (stderr + d.toString()).slice(-64_000);
  });
  const status = await new Promise<number | string>((done, fail) => {
    child.on('error', fail);
    child.on('close', (code, signal) => done(signal ?? code ?? -1));
  });
  if (status === 0) return;
  const own = ownError(stderr);
  if (own) throw new TwnnError(`--engine torch: ${own}`);
  if (/Rendezvous|rendezvous|DistNetworkError|TCPStore|Connection refused|timed out/.test(stderr)) {
    const where = e.rdzvEndpoint ?? (e.masterAddr ? `${e.masterAddr}:${e.masterPort ?? 29500}` : 'this node');
    throw new TwnnError(`--engine torch: the ranks could not meet at ${where} (torchrun exited with ${status}): ${rendezvousLine(stderr)}; check that all the nodes start the same command (its --nnodes, --rdzv-endpoint or --master-addr/--master-port; with --master-addr each its own --node-rank) and that the address is reachable`);
  }
  throw new TwnnError(`--engine torch: torchrun exited with ${status}: ${tail(stderr)}`);
}

/** The trainer's `twnn-torch: error:` line, the first one (every rank may print it). */
function ownError(stderr: string): string | undefined {
  return /twnn-torch: error: (.*)/.exec(stderr)?.[1];
}

function rendezvousLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => /Error|error/.test(l));
  return (lines.at(-1) ?? tail(stderr)).trim().slice(0, 400);
}

function tail(text: string): string {
  return text.trim().split('\n').slice(-8).join('\n');
}
