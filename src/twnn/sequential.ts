// Modules applied one after another, each in its own scope.
import { SpecError } from '../ir/index.js';
import { boundProduct, lipschitzOf } from './lipschitz.js';
import type { Module } from './module.js';

/** A sequential container; its children in order, with their scope names. */
export interface SequentialModule extends Module {
  readonly kind: 'sequential';
  readonly children: readonly (readonly [name: string, module: Module])[];
}

/**
 * Chain modules: the output of one is the input of the next. Children are
 * scoped `0`, `1`, ... like torch.nn.Sequential (so an MLP's parameters are
 * `0.weight`, `0.bias`, `2.weight`, ...), or by the keys of a single object
 * argument (in key order; JavaScript puts integer-like keys first).
 *
 * @example
 * const mlp = sequential(dense(16, 32), tanh(), dense(32, 1));
 * const stem = sequential({ conv: conv2d(1, 16, 3, { padding: 1 }), bn: batchNorm2d(16), relu: relu() });
 */
export function sequential(...args: Module[] | [Readonly<Record<string, Module>>]): SequentialModule {
  const named = args.length === 1 && !isModule(args[0]);
  const children = named
    ? Object.entries(args[0] as Readonly<Record<string, Module>>)
    : (args as unknown[]).map((m, i) => [String(i), m] as [string, unknown]);
  if (children.length === 0) throw new SpecError('sequential: needs at least one module');
  for (const [name, m] of children) {
    if (!isModule(m)) throw new SpecError(`sequential: child '${name}' is not a module (got ${describe(m)})`);
  }
  const modules = children as [string, Module][];
  return {
    kind: 'sequential',
    children: modules,
    build: (ctx, x) => modules.reduce((h, [name, m]) => ctx.scope(name, () => m.build(ctx, h)), x),
    lipschitz: (ctx) => boundProduct(ctx, modules.map(([name, m]) => ctx.scope(name, () => lipschitzOf(ctx, m)))),
  };
}

/**
 * Whether `m` looks like a Module (a `kind` and a `build` function).
 *
 * @example isModule(relu()) // true
 */
export function isModule(m: unknown): m is Module {
  return typeof m === 'object' && m !== null && typeof (m as Module).build === 'function' && typeof (m as Module).kind === 'string';
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object without build()' : typeof v;
}
