// Names and literals in generated source: whatever an ONNX file calls things,
// the wrapper's class, keys and strings must be valid TypeScript that means it.
import { describe, expect, it } from 'vitest';
import { className, docText, kebabCase, literal, pascalCase, propertyAccess, propertyKey, stringLiteral } from '../../src/codegen/naming.js';

/** Evaluate a generated expression. */
const evaluate = (source: string): unknown => new Function(`return (${source});`)();

describe('class and file names', () => {
  it.each([
    ['mnist-mlp', 'MnistMlp', 'mnist-mlp'],
    ['mnist-mlp-train_steps', 'MnistMlpTrainSteps', 'mnist-mlp-train-steps'],
    ['conv-net', 'ConvNet', 'conv-net'],
    ['torch_jit', 'TorchJit', 'torch-jit'],
    ['resNet50 v2', 'ResNet50V2', 'res-net50-v2'],
    ['3d-unet', 'Model3dUnet', '3d-unet'],
    ['---', 'Model', 'model'],
  ])('%s -> class %s, file %s.ts', (name, cls, file) => {
    expect(pascalCase(name)).toBe(cls);
    expect(kebabCase(name)).toBe(file);
  });

  it("renames a class that would clash with the wrapper's helper types", () => {
    expect(className('typed-tensor')).toBe('TypedTensorModel');
    expect(className('dim')).toBe('DimModel');
    expect(className('dims')).toBe('Dims');
  });
});

describe('keys and literals', () => {
  it('quotes what is not an identifier, and the quoted key reads back the name', () => {
    expect(propertyKey('x')).toBe('x');
    expect(propertyKey('stem.0.weight')).toBe("'stem.0.weight'");
    expect(propertyKey('default')).toBe("'default'");
    expect(propertyAccess('inputs', 'x')).toBe('inputs.x');
    const name = "grad.it's\\a\nb";
    const object = { [name]: 42 };
    expect(new Function('inputs', `return ${propertyAccess('inputs', name)};`)(object)).toBe(42);
  });

  it('string literals and arrays evaluate back to the value', () => {
    for (const text of ['plain', "it's", 'back\\slash', 'two\nlines', 'cr\r', 'sep\u2028x', '${not a template}']) {
      expect(evaluate(stringLiteral(text))).toBe(text);
    }
    expect(literal(['B', 784, null])).toBe("['B', 784, null]");
    expect(evaluate(literal(['batch size', 3, "o'clock"]))).toEqual(['batch size', 3, "o'clock"]);
  });

  it('doc text cannot end its comment early', () => {
    const text = docText('matches a/*/b and */ too');
    expect(text).not.toContain('*/');
    expect(evaluate(`/** ${text} */ 1`)).toBe(1);
  });
});
