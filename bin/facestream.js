#!/usr/bin/env node
// The CLI runs the TypeScript sources directly through tsx: no build step between a
// clone and a working command. The lab's commands (train, eval, bench, soak) are added
// when lab/ is there: in a clone, not in an installed package.
import fs from 'node:fs';
import { register } from 'tsx/esm/api';

register();
const cli = await import('../src/cli/main.ts');
const lab = new URL('../lab/cli.ts', import.meta.url);
if (fs.existsSync(lab)) (await import(lab.href)).registerLab(cli);
cli.run(process.argv);
