import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, dataDir } from '../src/data.ts';
import { loadModel } from '../src/models/io.ts';
import { downscale } from '../lab/models/superres-net.ts';
import { initRuntime, tf } from '../src/runtime/index.ts';
import { bicubic, psnr } from '../lab/train/evaluate-superres.ts';
import { isValidation } from '../lab/train/datasets.ts';
import { video } from './helpers.ts';

const bin = path.join(PROJECT_ROOT, 'bin', 'facestream.js');
const x4 = path.join(PROJECT_ROOT, 'models', 'superres', 'x4');

beforeAll(async () => { await initRuntime({ backend: 'wasm', quiet: true }); });

describe('the shipped TRGAN generator', () => {
  it('its files match the manifest (sha256); it carries its evaluation and beats bicubic there', () => {
    const m = JSON.parse(fs.readFileSync(path.join(x4, 'manifest.json'), 'utf8'));
    for (const f of m.files) {
      expect(crypto.createHash('sha256').update(fs.readFileSync(path.join(x4, f.file))).digest('hex'), f.file).toBe(f.sha256);
    }
    expect(m.input).toEqual([16, 16, 3]);
    expect(m.eval.x4.trgan.psnr).toBeGreaterThan(m.eval.x4.bicubic.psnr + 1.5);
    expect(m.training.terms).toMatch(/non-commercial/);
  });

  it('on real CelebA faces it restores more than bicubic upscaling does', async () => {
    const g = await loadModel(x4, [16, 16, 3]);
    // 16 validation faces (never trained on), the central square resized to 64x64
    const dir = path.join(dataDir(), 'celeba', 'images');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.jpg') && isValidation(f)).sort().slice(-16);
    const rows = await Promise.all(files.map((f) => sharp(path.join(dir, f)).resize(64, 64, { fit: 'cover' }).removeAlpha().raw().toBuffer()));
    const hr = tf.tensor4d(Float32Array.from(Buffer.concat(rows), (v) => v / 255), [files.length, 64, 64, 3]);
    const low = downscale(hr, 4);
    const bic = await bicubic(low, 64);
    const before = tf.memory().numTensors;
    const sr = tf.tidy(() => g.predict(low) as tf.Tensor4D);
    expect(tf.memory().numTensors).toBe(before + 1);
    const mean = (a: Float32Array) => a.reduce((p, q) => p + q, 0) / a.length;
    const gain = mean(psnr(sr, hr)) - mean(psnr(bic, hr));
    expect(gain).toBeGreaterThan(1);
    tf.dispose([hr, low, bic, sr]);
    g.dispose();
  });

  it('the surveillance pipeline super-resolves the small faces of pedestrians-1080p', () => {
    const r = spawnSync(process.execPath, [bin, 'analyze', video('pedestrians-1080p.mp4'), '--pipeline', 'surveillance', '--json'], { encoding: 'utf8', timeout: 240_000 });
    expect(r.status, r.stderr).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const ended = events.find((e) => e.type === 'stream.ended');
    expect(ended.counters['superres.faces']).toBeGreaterThan(0);
    const tracks = events.filter((e) => e.type === 'track.ended');
    expect(tracks.some((t) => t.flags.includes('superres') && t.attributes?.gender)).toBe(true);
  }, 300_000);
});
