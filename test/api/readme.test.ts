// README's API example runs as written (its `twnn` import pointed at this checkout's sources).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { REPO } from '../cli/run-cli.js';

it("README's API section: a custom layer through ops, a region, exportModel, openSession and run", () => {
  const readme = readFileSync(resolve(REPO, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## API'));
  const snippet = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  expect(snippet, 'a ```ts block under ## API').toBeDefined();
  const dir = mkdtempSync(join(tmpdir(), 'twnn-readme-'));
  try {
    const file = join(dir, 'example.mts');
    writeFileSync(file, snippet!.replace("from 'twnn'", `from ${JSON.stringify(resolve(REPO, 'src/index.ts'))}`));
    const stdout = execFileSync(process.execPath, ['--import', 'tsx', file], { cwd: REPO, encoding: 'utf8' });
    // files.length, y's shape, then each sample's sweeps.
    const m = /^5 \[ 3, 2 \] \[ (\d+), (\d+), (\d+) \]/.exec(stdout.trim());
    expect(m, stdout).not.toBeNull();
    for (const n of m!.slice(1).map(Number)) expect(n).toBeGreaterThanOrEqual(2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
