/**
 * The inference engine as users meet it: facestream on onnxruntime when it is installed,
 * on tfjs (wasm) where it is not (the optional package made unresolvable, as on a machine
 * that skipped it), the same answers on both, and clear errors for a bad choice.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../src/data.ts';
import { parseEngineChoice, parseThreads, resetEngineChoice, engineInfo } from '../src/runtime/onnx.ts';
import { onnxruntimeInstalled, video } from './helpers.ts';

const bin = path.join(PROJECT_ROOT, 'bin', 'facestream.js');
const absent = path.join(PROJECT_ROOT, 'test', 'fixtures', 'no-onnxruntime.cjs');

function analyze(env: Record<string, string>, preload?: string) {
  const args = [...(preload ? ['--require', preload] : []), bin, 'analyze', video('talking-d0.mp4'), '--fps', '5', '--json'];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 300_000, env: { ...process.env, ...env } });
  const events = r.stdout.trim() ? r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) : [];
  const engineLine = r.stderr.split('\n').find((l) => l.includes('inference engine:')) ?? '';
  return { status: r.status, stderr: r.stderr, events, engineLine };
}

afterEach(() => { delete process.env.FACESTREAM_ENGINE; resetEngineChoice(); });

describe('inference engine', () => {
  it.skipIf(!onnxruntimeInstalled)('runs on onnxruntime when installed and on tfjs wasm without it, with the same answers', () => {
    const native = analyze({});
    expect(native.status, native.stderr).toBe(0);
    expect(native.engineLine).toMatch(/inference engine: onnxruntime-node 1\.\d+\.\d+, cpu, \d+ threads?/);
    const wasm = analyze({}, absent);
    expect(wasm.status, wasm.stderr).toBe(0);
    expect(wasm.engineLine).toMatch(/inference engine: tfjs wasm \(onnxruntime skipped: onnxruntime-node did not load: Cannot find module 'onnxruntime-node'\)/);
    const ended = (r: typeof native) => r.events.filter((e) => e.type === 'track.ended') as Array<{ attributes?: { gender?: { value: string }; ageGroup?: { value: string } } }>;
    expect(ended(native)).toHaveLength(1);
    expect(ended(wasm)).toHaveLength(1);
    expect(ended(native)[0]!.attributes?.gender?.value).toBe(ended(wasm)[0]!.attributes?.gender?.value);
    expect(ended(native)[0]!.attributes?.ageGroup?.value).toBe(ended(wasm)[0]!.attributes?.ageGroup?.value);
  }, 300_000);

  it('FACESTREAM_ENGINE=onnx without the package, or a wrong value, is an error that says what to do', async () => {
    // the preload makes the package unresolvable where it is installed; where it is not, it changes nothing
    const r = analyze({ FACESTREAM_ENGINE: 'onnx' }, absent);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/FACESTREAM_ENGINE=onnx: onnxruntime-node did not load.*install it \(npm install onnxruntime-node\) or unset FACESTREAM_ENGINE/);
    expect(() => parseEngineChoice('gpu')).toThrow(/engine "gpu" is not one of auto, onnx, tfjs/);
    expect(() => parseThreads('0')).toThrow(/FACESTREAM_ENGINE_THREADS="0" is not a thread count/);
    expect(parseThreads('3')).toBe(3);
    process.env.FACESTREAM_ENGINE = 'tfjs';
    resetEngineChoice();
    expect((await engineInfo()).engine).toBe('tfjs');
  }, 300_000);
});
