// The tasks `twnn web`'s page trains, named by an export's `task.data.kind`.
// A module of its own, with no imports, so `twnn web --help` lists them
// without loading the runtime.

/** Each task the page trains, with what the page shows for it; `twnn web --help` lists them. */
export const WEB_TASKS = {
  sine: 'sine wave generation (graphs/sine.ts): the loss, the wave the model generates from a test window against the true one',
  mnist: "MNIST with layout 'flat' (an MLP TWNN, graphs/mnist-mlp.ts): the loss, test accuracy, test digits with their predictions and sweeps",
} as const;

export type WebTaskKind = keyof typeof WEB_TASKS;

/** The largest batch the page may ask for: a step's rows travel as JSON, and 60k MNIST rows would be 250 MB of it. */
export const MAX_BATCH = 4096;
