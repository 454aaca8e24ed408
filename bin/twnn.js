#!/usr/bin/env node
// The `twnn` command. tsx's loader is registered first either way: graph files
// are TypeScript. In a checkout (src/ present) the CLI runs from its sources;
// an installed package runs its compiled dist/ (the package ships no src/).
import { existsSync } from 'node:fs';
import { register } from 'tsx/esm/api';

register();
const fromSource = new URL('../src/cli/main.ts', import.meta.url);
await import(existsSync(fromSource) ? fromSource.href : new URL('../dist/cli/main.js', import.meta.url).href);
