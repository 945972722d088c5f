/**
 * The one place that picks and prepares the TensorFlow.js backend.
 *
 * Order: tfjs-node-gpu (if installed and working), tfjs-node, wasm (its .wasm files read
 * from the installed package, never the network), cpu. `FACESTREAM_BACKEND` (or the
 * `backend` option) forces one of `node-gpu`, `node`, `wasm`, `cpu`. The choice is logged
 * once per process.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { FacestreamError } from '../errors.ts';
import { log } from '../log.ts';

export { tf };

export const BACKEND_CHOICES = ['auto', 'node-gpu', 'node', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

export interface RuntimeInfo {
  choice: BackendChoice;
  /** The tfjs backend name now active: 'tensorflow', 'wasm' or 'cpu'. */
  backend: string;
  /** Which package provides it. */
  provider: string;
  /** Why the earlier candidates were skipped, for the log. */
  skipped: string[];
}

const require = createRequire(import.meta.url);
let ready: Promise<RuntimeInfo> | undefined;
let readyChoice: BackendChoice | undefined;

export function wasmDir(): string {
  return path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep;
}

function parseChoice(value: string | undefined): BackendChoice {
  const v = (value ?? 'auto').trim().toLowerCase() || 'auto';
  if ((BACKEND_CHOICES as readonly string[]).includes(v)) return v as BackendChoice;
  throw new FacestreamError(
    'FS_ERR_BACKEND',
    `FACESTREAM_BACKEND="${value}" is not a backend; use one of ${BACKEND_CHOICES.join(', ')}`,
  );
}

async function tryNode(pkg: string): Promise<boolean> {
  await import(pkg);
  return tf.setBackend('tensorflow');
}

async function tryWasm(): Promise<boolean> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(wasmDir());
  // inference only: the training kernels are the lab's (lab/runtime.ts)
  return tf.setBackend('wasm');
}

async function pick(choice: BackendChoice): Promise<RuntimeInfo> {
  const candidates: Array<[BackendChoice, string, () => Promise<boolean>]> = [
    ['node-gpu', '@tensorflow/tfjs-node-gpu', () => tryNode('@tensorflow/tfjs-node-gpu')],
    ['node', '@tensorflow/tfjs-node', () => tryNode('@tensorflow/tfjs-node')],
    ['wasm', '@tensorflow/tfjs-backend-wasm', tryWasm],
    ['cpu', '@tensorflow/tfjs-backend-cpu', () => tf.setBackend('cpu')],
  ];
  const skipped: string[] = [];
  for (const [name, provider, attempt] of candidates) {
    if (choice !== 'auto' && choice !== name) continue;
    try {
      if (await attempt()) {
        await tf.ready();
        return { choice, backend: tf.getBackend(), provider, skipped };
      }
      skipped.push(`${name}: backend failed to initialise`);
    } catch (err) {
      skipped.push(`${name}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new FacestreamError(
    'FS_ERR_BACKEND',
    `no TensorFlow.js backend could start (${skipped.join('; ')}); ` +
      (choice === 'auto' ? 'reinstall @tensorflow/tfjs-backend-wasm' : `unset FACESTREAM_BACKEND or install ${choice}'s package`),
  );
}

/**
 * Prepares the backend once per process and returns what was chosen. Calling it again
 * with the same choice returns the same answer; a different explicit choice switches.
 */
export function initRuntime(opts: { backend?: BackendChoice | string; quiet?: boolean } = {}): Promise<RuntimeInfo> {
  const choice = parseChoice(opts.backend ?? process.env.FACESTREAM_BACKEND);
  if (ready && (choice === readyChoice || choice === 'auto')) return ready;
  readyChoice = choice;
  ready = pick(choice).then((info) => {
    if (!opts.quiet) {
      log.info(`tensorflow.js backend: ${info.backend} (${info.provider})`);
      if (info.skipped.length) log.debug('backends skipped', { skipped: info.skipped });
    }
    return info;
  });
  ready.catch(() => { ready = undefined; readyChoice = undefined; });
  return ready;
}
