import { describe, expect, it } from 'vitest';
import { initRuntime, tf } from './index.ts';

describe('runtime backend choice', () => {
  it('auto picks the first backend that works: here tfjs-node-gpu has no native binding, so wasm', async () => {
    const info = await initRuntime({ backend: 'auto', quiet: true });
    expect(info.backend).toBe('wasm');
    expect(info.skipped.join(' ')).toMatch(/node-gpu/);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('an explicit choice switches, and a wrong name is a clear error', async () => {
    expect((await initRuntime({ backend: 'cpu', quiet: true })).backend).toBe('cpu');
    expect(() => initRuntime({ backend: 'gpu-please' })).toThrow(/FACESTREAM_BACKEND="gpu-please" is not a backend; use one of auto, node-gpu, node, wasm, cpu/);
    expect((await initRuntime({ backend: 'wasm', quiet: true })).backend).toBe('wasm');
  });
});
