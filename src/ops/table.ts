// Every op twnn emits, family by family: the one list the registry serves.
// Ops do not register themselves when their file is imported; a new family
// adds its list here.
import type { OpDef } from '../ir/index.js';
import { COMPARE_OPS } from './compare.js';
import { CONTROL_OPS } from './control.js';
import { CONV_OPS } from './conv.js';
import { ELEMENTWISE_OPS } from './elementwise.js';
import { LINALG_OPS } from './linalg.js';
import { LOGIC_OPS } from './logic.js';
import { NORM_OPS } from './norm.js';
import { POOL_OPS } from './pool.js';
import { REDUCE_OPS } from './reduce.js';
import { ROWS_OPS } from './rows.js';
import { SCATTER_OPS } from './scatter.js';
import { SHAPE_OPS } from './shape.js';
import { SOFTMAX_OPS } from './softmax.js';
import { STRUCTURAL_OPS } from './structural.js';

/** The op families, each its file's list. */
export const OP_TABLE: readonly (readonly OpDef[])[] = [
  ELEMENTWISE_OPS, STRUCTURAL_OPS, COMPARE_OPS, SOFTMAX_OPS, REDUCE_OPS, LINALG_OPS, CONV_OPS,
  POOL_OPS, NORM_OPS, SHAPE_OPS, SCATTER_OPS, ROWS_OPS, CONTROL_OPS, LOGIC_OPS,
];
