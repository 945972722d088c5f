#!/usr/bin/env node
// The CLI runs the TypeScript sources directly through tsx: no build step between a
// clone and a working command.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
