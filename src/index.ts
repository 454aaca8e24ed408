// twnn's public API, curated: what graphs/*.ts files and users' code import.
// Everything else under src/ is internal and may change without notice.

// Model definition.
export { defineModel, isModelSpec, MODEL_KIND } from './twnn/spec.js';
export type { DataSpec, FixedPointCorrection, InputSpec, LossKind, ModelDefinition, ModelSpec, OptimizerKind, TaskSpec, TrainDefaults } from './twnn/spec.js';

// Layers.
export { dense, transposeWeight } from './twnn/dense.js';
export type { DenseModule, DenseOptions } from './twnn/dense.js';
export { conv2d } from './twnn/conv2d.js';
export type { Conv2dModule, Conv2dOptions, Size2 } from './twnn/conv2d.js';
export { batchNorm2d } from './twnn/norm.js';
export type { BatchNorm2dModule, BatchNorm2dOptions } from './twnn/norm.js';
export { groupNorm2d } from './twnn/group-norm.js';
export type { GroupNorm2dModule, GroupNorm2dOptions } from './twnn/group-norm.js';
export { avgPool2d, flatten, globalAvgPool, maxPool2d } from './twnn/pool.js';
export type { AvgPool2dOptions, Pool2dOptions } from './twnn/pool.js';
export { leakyRelu, relu, sigmoid, softmax, tanh } from './twnn/activations.js';
export { isModule, sequential } from './twnn/sequential.js';
export type { SequentialModule } from './twnn/sequential.js';
export { basicBlock, bottleneck } from './twnn/blocks.js';

// Fixed-point regions and wormholes.
export { parseBackward, region } from './twnn/region.js';
export type { IterateSpec, RegionModule, RegionSpec, WormholeSpec } from './twnn/region.js';
export type { ContractiveSpec } from './twnn/contractive.js';
export type { BasicBlockOptions, BottleneckOptions } from './twnn/blocks.js';

// Modules, parameters and initialisers (for custom layers).
export { BuildContext, paramWeights } from './twnn/module.js';
export type { BuildContextOptions, Module, ParamInfo, ParamMode, ParamOptions } from './twnn/module.js';
export * as init from './twnn/init.js';
export { Rng } from './common/rng.js';
export type { Init } from './twnn/init.js';

// Building and exporting.
export { buildInferenceGraph } from './lower/inference.js';
export type { BuildOptions, BuiltGraph } from './lower/inference.js';
export { exportModel } from './lower/artifacts.js';
export { GRAD_FILE, MANIFEST_FILE, MODEL_FILE, TRAIN_FILE, TRAIN_STEPS_FILE } from './contract/files.js';
export { readManifest } from './contract/read-manifest.js';
export type { ExportOptions, ExportResult } from './lower/artifacts.js';
export type { Manifest, ManifestFile, ManifestGraph, ManifestParam, ManifestTask, ManifestTraining, ManifestValue } from './contract/manifest.js';
export type { OptimizerConfig, OptimizerSettings, StateSlot } from './autodiff/optimizers.js';

// Ops, for custom modules that emit nodes themselves (the ONNX op set twnn differentiates).
export * as ops from './ops/public.js';

// Training, running and evaluating from code (what `twnn train`, `run` and `eval` do).
export { train } from './runtime/trainer.js';
export type { TrainEvent, TrainOptions, TrainResult } from './runtime/trainer.js';
export { trainTorch } from './runtime/torch/ddp.js';
export type { TorchEngineOptions } from './runtime/torch/ddp.js';
export { openSession, TwnnSession } from './runtime/session.js';
export type { OpenOptions } from './runtime/session.js';
export type { BudgetSetting } from './runtime/budget.js';
export { budgetInputName, type RegionBudget } from './contract/budget.js';
export { evaluate } from './runtime/metrics.js';
export type { EvalResult } from './runtime/metrics.js';
export { loadTaskData } from './data/datasets.js';
export type { Dataset } from './data/batches.js';

// Core types and errors.
export { Tensor } from './ir/tensor.js';
export { FormatError, ShapeError, SpecError, TwnnError } from './common/errors.js';
export type { DType } from './ir/dtype.js';
export type { Dim, Shape } from './ir/shape.js';
export { Graph } from './ir/graph.js';
export type { Value } from './ir/value.js';
