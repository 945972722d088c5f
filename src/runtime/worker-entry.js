// Entry of facestream's worker threads: registers tsx (the sources are TypeScript, with no
// build step), then loads the module named in workerData.module.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.module);
