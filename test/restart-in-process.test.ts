// An app started and stopped in one process (tests, an integrator embedding it) frees what
// it loaded: its models, batchers and detector worker threads live in the app's shared
// resources, not at module level, so a second app does not find the first one's, and
// starting and stopping apps does not grow the process.
import { describe, expect, it } from 'vitest';
import { startApp } from '../src/app.ts';
import { parseAppConfig } from '../src/config.ts';
import { tf } from '../src/runtime/index.ts';
import { onnxEngine } from '../src/runtime/onnx.ts';

const config = () => parseAppConfig({ rtmp: { port: 0, host: '127.0.0.1' }, http: { port: 0, host: '127.0.0.1' }, storage: { file: ':memory:' } }, 'test');

describe('apps in one process', () => {
  it('start/stop cycles leave no tensor and no engine session behind (the attribute model and BlazeFace are freed on stop)', async () => {
    // what the loaded models hold: tfjs tensors, and on the native engine its open sessions
    const held = async () => tf.memory().numTensors + ((await onnxEngine())?.stats.sessions ?? 0);
    const cycle = async () => { const app = await startApp(config()); await app.stop(); return held(); };
    const first = await cycle();
    const second = await cycle();
    const third = await cycle();
    expect(second).toBe(first);
    expect(third).toBe(first);
    // while an app runs, its models are loaded: more held than once it stopped
    const app = await startApp(config());
    const running = await held();
    await app.stop();
    expect(running).toBeGreaterThan(first);
    expect(await held()).toBe(first);
  });
});
