#!/usr/bin/env node
// The `twnn` command: the CLI is TypeScript, run through tsx's ESM loader.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
