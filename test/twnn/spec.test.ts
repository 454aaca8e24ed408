import { describe, expect, it } from 'vitest';
import { defineModel, dense, isModelSpec, MODEL_KIND, SpecError, type ModelDefinition } from '../../src/index.js';

const valid: ModelDefinition = { name: 'tiny', input: { shape: ['B', 3] }, net: dense(3, 1) };

describe('defineModel', () => {
  it('brands and freezes a valid definition, filling the input dtype', () => {
    const spec = defineModel({ ...valid, description: 'one layer', task: { loss: 'mse' } });
    expect(spec.kind).toBe(MODEL_KIND);
    expect(isModelSpec(spec)).toBe(true);
    expect(spec.input).toEqual({ shape: ['B', 3], dtype: 'float' });
    expect(spec.task).toEqual({ loss: 'mse' });
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

  it('keeps a valid task, checked against the input, frozen', () => {
    const task = { loss: 'mse', data: { kind: 'sine', window: 3, length: 100 }, train: { epochs: 2, lr: 0.01, optimizer: 'sgd', momentum: 0.9, betas: [0.8, 0.9], clipNorm: 1 } } as const;
    const spec = defineModel({ ...valid, task: task as ModelDefinition['task'] });
    expect(spec.task).toEqual(task);
    expect(Object.isFrozen(spec.task!.train)).toBe(true);
  });

  const badTasks: [string, unknown, RegExp][] = [
    ['an unknown task key', { lossFn: 'mse' }, /model 'tiny': task: unknown option 'lossFn' \(did you mean 'loss'\?\); allowed: loss, data, train/],
    ['an unknown loss', { loss: 'l1' }, /task.loss must be 'mse' or 'cross_entropy', got "l1"/],
    ['an unknown data kind', { data: { kind: 'cifar' } }, /task.data.kind must be 'sine', 'mnist', 'fashion-mnist' or 'cifar10', got "cifar"/],
    ['a sine window that is not the input width', { data: { kind: 'sine', window: 16 } }, /task.data: sine windows of 16 are \[B,16\], but the model's input is \[B,3\]/],
    ['a series no longer than its window', { data: { kind: 'sine', window: 3, length: 3 } }, /task.data.length \(3\) must exceed the window \(3\)/],
    ['mnist images for a flat input', { data: { kind: 'mnist', layout: 'image' } }, /mnist 'image' are \[B,1,28,28\], but the model's input is \[B,3\]/],
    ['a loss its data cannot take', { loss: 'cross_entropy', data: { kind: 'sine', window: 3 } }, /task: sine data needs loss 'mse', got 'cross_entropy'/],
    ['a zero learning rate', { train: { lr: 0 } }, /task.train.lr must be a finite number > 0, got 0/],
    ['an unknown optimizer', { train: { optimizer: 'rmsprop' } }, /task.train.optimizer must be 'sgd', 'adam' or 'adamw', got "rmsprop"/],
    ['betas that are not a pair', { train: { betas: [0.9] } }, /task.train.betas must be a pair \[beta1, beta2\], got \[0.9\]/],
    ['a fractional batch', { train: { batch: 6.5 } }, /task.train.batch must be a positive integer, got 6.5/],
    ['a misspelt training key', { train: { learningRate: 0.1 } }, /task.train: unknown option 'learningRate'/],
  ];
  it.each(badTasks)('rejects a task with %s', (_, task, message) => {
    const make = () => defineModel({ ...valid, task: task as ModelDefinition['task'] });
    expect(make).toThrow(SpecError);
    expect(make).toThrow(message);
  });
});
