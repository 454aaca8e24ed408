// tools/unused-exports.ts on a small in-memory project with one export of
// each kind: used by the library, through the public API, through a barrel,
// by a namespace's property, only by a test, and by nothing.
import { Project } from 'ts-morph';
import { describe, expect, it } from 'vitest';
import { unusedExports, type ProjectLayout } from '../../tools/unused-exports.js';

const layout: ProjectLayout = { root: '/p', checked: ['src'], library: ['src', 'tools'], tests: ['test'], publicEntry: 'src/index.ts' };

function project(files: Record<string, string>): Project {
  const p = new Project({ useInMemoryFileSystem: true, compilerOptions: { module: 199 /* NodeNext */, moduleResolution: 99 /* NodeNext */, allowImportingTsExtensions: true, noEmit: true } });
  for (const [path, text] of Object.entries(files)) p.createSourceFile(`/p/${path}`, text);
  return p;
}

describe('unusedExports', () => {
  it('sorts the exports of src/ into used, test-only and unused', () => {
    const p = project({
      'src/a.ts': [
        'export const usedByLib = 1;',
        'export const usedInOwnFileOnly = 2; export const alsoHere = usedInOwnFileOnly;',
        'export function testOnly() { return 3; }',
        'export type Unused = number;',
        'export const viaBarrel = 4;',
        'export const viaNamespace = 5;',
        'export const namespaceTestOnly = 6;',
      ].join('\n'),
      'src/barrel.ts': "export * from './a.ts';",
      'src/lib.ts': "import { usedByLib, viaBarrel } from './barrel.ts';\nimport * as a from './a.ts';\nexport const sum = usedByLib + viaBarrel + a.viaNamespace;",
      'src/pub.ts': 'export const published = 7;\nexport const notPublished = 8;',
      'src/index.ts': "export { published } from './pub.ts';\nexport { sum } from './lib.ts';",
      'test/a.test.ts': "import { testOnly, notPublished } from '../src/barrel.ts';\nimport * as a from '../src/a.ts';\nimport { notPublished as again } from '../src/pub.ts';\nexport const t = testOnly() + a.namespaceTestOnly + notPublished + again;",
      'tools/t.ts': "import { alsoHere } from '../src/a.ts';\nexport const x = alsoHere;",
    });
    expect(unusedExports(p, layout)).toEqual([
      { file: 'src/a.ts', name: 'namespaceTestOnly', usedBy: 'test', tests: ['test/a.test.ts'] },
      { file: 'src/a.ts', name: 'testOnly', usedBy: 'test', tests: ['test/a.test.ts'] },
      { file: 'src/a.ts', name: 'Unused', usedBy: 'none', tests: [] },
      { file: 'src/a.ts', name: 'usedInOwnFileOnly', usedBy: 'none', tests: [] },
      { file: 'src/pub.ts', name: 'notPublished', usedBy: 'test', tests: ['test/a.test.ts'] },
    ]);
  });

  it('counts a namespace passed on whole, and a dynamic import, as using every export', () => {
    const p = project({
      'src/a.ts': 'export const one = 1;\nexport const two = 2;',
      'src/b.ts': 'export const three = 3;',
      'src/index.ts': 'export {};',
      'tools/t.ts': "import * as a from '../src/a.ts';\nexport const all = Object.values(a);\nexport const b = () => import('../src/b.ts');",
    });
    expect(unusedExports(p, layout)).toEqual([]);
  });
});
