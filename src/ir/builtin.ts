import type { OpDef } from './opdef.js';

/**
 * The two ops the graph builder itself needs: `Identity`, for outputs that
 * would otherwise be inputs or outer-scope values, and `Constant`, for literals.
 * src/ops/ lists these same objects in its op table and their VJP rules in its VJP table.
 */
export const IdentityOp: OpDef = {
  opType: 'Identity',
  inputs: [{ name: 'input' }],
  outputs: 1,
  dtypes: ['float32', 'float64', 'int64', 'int32', 'uint8', 'bool'],
  doc: 'y = x',
  infer: (ctx) => [{ dtype: ctx.inputs[0]!.dtype, shape: ctx.inputs[0]!.shape }],
};

export const ConstantOp: OpDef = {
  opType: 'Constant',
  inputs: [],
  outputs: 1,
  attrs: { value: { type: 'tensor', required: true } },
  doc: 'a literal tensor',
  infer: (ctx) => {
    const t = ctx.attr<import('./tensor.js').Tensor>('value');
    return [{ dtype: t.dtype, shape: t.shape }];
  },
};
