import { describe, expect, it } from 'vitest';
import { PRODUCER_VERSION } from '../../src/onnx/serialize.js';
import { expectUserError, twnn } from './run-cli.js';

describe('twnn --help', () => {
  it('lists every command', async () => {
    const r = await twnn(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: twnn \[options\] \[command\]/);
    for (const cmd of ['build', 'run', 'inspect']) expect(r.stdout).toMatch(new RegExp(`\\n  ${cmd} \\[options\\] <\\w+>\\s+\\S`));
  });

  it.each([
    ['build', '<graph>', ['--out <dir>', '--dtype <dtype>', '--opset <n>', '--seed <n>', 'float32', 'float64']],
    ['run', '<model>', ['--input <file>', '--output <file.npy>', '--device <device>', '--json', 'cuda:N', '--tol <[region=]x>', '--max-iter <[region=]n>']],
    ['inspect', '<model>', ['--json']],
  ])('%s --help describes the command and its flags', async (cmd, arg, flags) => {
    const r = await twnn([cmd, '--help']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`Usage: twnn ${cmd} [options] ${arg}`);
    for (const flag of flags) expect(r.stdout).toContain(flag);
  });

  it('--version prints the version', async () => {
    const r = await twnn(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(PRODUCER_VERSION);
  });
});

describe('usage errors are one line and exit 2', () => {
  it('no command', async () => expectUserError(await twnn([]), "missing command: expected one of build, train, run, eval, inspect, codegen, doctor, bench, web (see 'twnn --help')"));
  it('an unknown command', async () => expectUserError(await twnn(['trian']), "unknown command 'trian'"));
  it('an unknown option', async () => expectUserError(await twnn(['inspect', 'm.onnx', '--fast']), "unknown option '--fast'"));
  it('a missing argument', async () => expectUserError(await twnn(['inspect']), "missing required argument 'model'"));
  it('run without --input', async () => expectUserError(await twnn(['run', 'm.onnx']), "required option '-i, --input <file>' not specified"));
  it('a bad --dtype', async () => expectUserError(await twnn(['build', 'g.ts', '--dtype', 'float16']), /--dtype <dtype>' argument 'float16' is invalid.*float32, float64/));
  it('a bad --opset', async () => expectUserError(await twnn(['build', 'g.ts', '--opset', '17.5']), /--opset <n>' argument '17.5' is invalid.*integer >= 1/));
  it('a bad --seed', async () => expectUserError(await twnn(['build', 'g.ts', '--seed', '-1']), /--seed <n>' argument '-1' is invalid.*integer >= 0/));
});
