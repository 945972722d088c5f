#!/usr/bin/env node
// In a clone the CLI runs the TypeScript sources directly through tsx: no build step
// between a clone and a working command; the lab's commands (train, eval, bench, soak) are
// added when lab/ is there. An installed package runs its built JavaScript (dist/).
import fs from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
let cli;
if (fs.existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(source.href);
  const lab = new URL('../lab/cli.ts', import.meta.url);
  if (fs.existsSync(lab)) (await import(lab.href)).registerLab(cli);
} else {
  cli = await import('../dist/src/cli/main.js');
}
cli.run(process.argv);
