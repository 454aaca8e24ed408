// The metadata_props keys twnn writes into every exported .onnx file (the
// Loops' records are iterator-record.ts's `twnn.loop:<node>`).

/** Every exported graph: the model's name, build dtype, seed, parameter count and how many parameters. */
export const MODEL_NAME_KEY = 'twnn.model';
export const DTYPE_KEY = 'twnn.dtype';
export const SEED_KEY = 'twnn.seed';
export const PARAMS_KEY = 'twnn.params';
export const PARAMETER_COUNT_KEY = 'twnn.parameterCount';
/** Training graphs only: which one (`grad`, `train`, `train_steps`, `jvp`, `spectral`), the loss, and the optimizer's settings as JSON. model.onnx has no role. */
export const ROLE_KEY = 'twnn.role';
export const LOSS_KEY = 'twnn.loss';
export const OPTIMIZER_KEY = 'twnn.optimizer';
/** model.onnx of a model with skip-gated blocks: JSON `{ "<block>": threshold }`. */
export const SKIP_GATES_KEY = 'twnn.skip_gates';
/** model.onnx of a model with fixed-point regions: its budget inputs and their defaults, JSON `{ "tol.<region>": 0.001, "max_iter.<region>": 300 }` (budget.ts). */
export { BUDGET_KEY } from './budget.js';
