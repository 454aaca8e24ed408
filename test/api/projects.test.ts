// The suite's split (vitest.config.ts): every test file belongs to exactly one
// project, and every file that drives twnn from outside — the CLI in a child
// process, a packed install, a browser — is an end-to-end test, so
// `npm test -- --project unit` stays the quick in-process loop.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { E2E } from '../../vitest.config.js';
import { REPO } from '../cli/run-cli.js';

/** A vitest include pattern as a RegExp over repo-relative paths (`**` any folders, `*` within one). */
function patternRegExp(glob: string): RegExp {
  const source = glob
    .split(/(\*\*\/|\*)/)
    .map((part) => (part === '**/' ? '(?:.*/)?' : part === '*' ? '[^/]*' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`);
}

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return testFiles(path);
    return e.name.endsWith('.test.ts') ? [relative(REPO, path)] : [];
  });
}

const e2e = E2E.map(patternRegExp);
const isE2e = (file: string) => e2e.some((re) => re.test(file));
const DRIVES_FROM_OUTSIDE = /\btwnn\(\[|execFileSync|playwright/;

describe('test projects', () => {
  it('reads the include patterns as vitest does', () => {
    expect(patternRegExp('test/cli/**/*.test.ts').test('test/cli/train.test.ts')).toBe(true);
    expect(patternRegExp('test/cli/**/*.test.ts').test('test/cli/sub/x.test.ts')).toBe(true);
    expect(patternRegExp('test/bench/cli.test.ts').test('test/bench/clixtest.ts')).toBe(false);
  });

  it('puts every file that drives twnn from outside into e2e', () => {
    const files = testFiles(join(REPO, 'test'));
    // (This file names the pattern itself, and runs nothing.)
    const outside = files.filter((f) => f !== 'test/api/projects.test.ts' && DRIVES_FROM_OUTSIDE.test(readFileSync(join(REPO, f), 'utf8')));
    expect(outside.length).toBeGreaterThan(10);
    expect(outside.filter((f) => !isE2e(f))).toEqual([]);
  });

  it('names no e2e file that does not exist', () => {
    const files = testFiles(join(REPO, 'test'));
    const missing = E2E.filter((p) => !p.includes('*') && !files.includes(p));
    expect(missing).toEqual([]);
    // Both projects hold tests.
    expect(files.filter(isE2e).length).toBeGreaterThan(0);
    expect(files.filter((f) => !isE2e(f)).length).toBeGreaterThan(50);
  });
});
