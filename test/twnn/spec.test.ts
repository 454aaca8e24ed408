import { describe, expect, it } from 'vitest';
import { defineModel, dense, isModelSpec, MODEL_KIND, SpecError, type ModelDefinition } from '../../src/index.js';

const valid: ModelDefinition = { name: 'tiny', input: { shape: ['B', 3] }, net: dense(3, 1) };

describe('defineModel', () => {
  it('brands and freezes a valid definition, filling the input dtype', () => {
    const spec = defineModel({ ...valid, description: 'one layer', task: { kind: 'regression' } });
    expect(spec.kind).toBe(MODEL_KIND);
    expect(isModelSpec(spec)).toBe(true);
    expect(spec.input).toEqual({ shape: ['B', 3], dtype: 'float' });
    expect(spec.task).toEqual({ kind: 'regression' });
    expect(Object.isFrozen(spec)).toBe(true);
    expect(Object.isFrozen(spec.input.shape)).toBe(true);
  });

  it('tells specs from other default exports', () => {
    expect(isModelSpec({ ...valid })).toBe(false);
    expect(isModelSpec(null)).toBe(false);
    expect(isModelSpec(dense(2, 2))).toBe(false);
  });

  const bad: [string, Partial<ModelDefinition> & Record<string, unknown>, RegExp][] = [
    ['an empty name', { name: '' }, /defineModel: name must start with a letter or digit/],
    ['a name with a slash', { name: 'a/b' }, /name must start with a letter or digit and use only/],
    ['no batch dimension', { input: { shape: [3] } }, /model 'tiny': input shape must start with the batch dimension 'B', got \[3\]/],
    ['only a batch dimension', { input: { shape: ['B'] } }, /needs at least one dimension after 'B'/],
    ['a zero dimension', { input: { shape: ['B', 0] } }, /model 'tiny': input dimension 1 must be a positive integer or a symbol/],
    ['a fractional dimension', { input: { shape: ['B', 2.5] } }, /input dimension 1/],
    ['another dtype', { input: { shape: ['B', 3], dtype: 'int64' as never } }, /input dtype must be 'float'/],
    ['no input', { input: undefined as never }, /model 'tiny': input must be \{ shape: \['B', \.\.\.\] \}/],
    ['a net that is not a module', { net: { kind: 'x' } as never }, /model 'tiny': net must be a module/],
    ['a task that is not an object', { task: 3 as never }, /model 'tiny': task must be an object/],
    ['a description that is not a string', { description: 5 as never }, /description must be a string/],
  ];
  it.each(bad)('rejects %s', (_, override, message) => {
    const make = () => defineModel({ ...valid, ...override } as ModelDefinition);
    expect(make).toThrow(SpecError);
    expect(make).toThrow(message);
  });
});
