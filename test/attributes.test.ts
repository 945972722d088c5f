import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../src/data.ts';
import { video } from './helpers.ts';

const bin = path.join(PROJECT_ROOT, 'bin', 'facestream.js');

describe('the shipped attribute model', () => {
  it.each(['attributes', 'attributes-check'])('models/%s: its files match the manifest (sha256) and it carries its evaluation', async (name) => {
    const crypto = await import('node:crypto');
    const manifest = path.join(PROJECT_ROOT, 'models', name, 'manifest.json');
    const m = JSON.parse(fs.readFileSync(manifest, 'utf8'));
    for (const f of [...m.files, m.onnx]) {
      const data = fs.readFileSync(path.join(path.dirname(manifest), f.file));
      expect(crypto.createHash('sha256').update(data).digest('hex'), f.file).toBe(f.sha256);
    }
    expect(m.eval.celeba.meanAccuracy).toBeGreaterThan(m.eval.celeba.majorityBaseline);
    expect(m.eval.utkface.genderAccuracy).toBeGreaterThan(0.85);
    expect(m.training.terms).toMatch(/non-commercial/);
  });

  it('analyze --json reports each track with its attributes, confidence and grade', () => {
    const r = spawnSync(process.execPath, [bin, 'analyze', video('talking-d0.mp4'), '--json'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const ended = events.filter((e) => e.type === 'track.ended');
    expect(ended).toHaveLength(1);
    const a = ended[0].attributes;
    for (const key of ['gender', 'ageGroup', 'smiling']) {
      expect(a[key].grade).toMatch(/^[SABCD]$/);
      expect(a[key].confidence).toBeGreaterThanOrEqual(0);
      expect(a[key].confidence).toBeLessThanOrEqual(1);
      expect(a[key].frames).toBeGreaterThan(1);
    }
    expect(a.age).toBeGreaterThan(0);
    expect(Object.keys(a.celeba)).toHaveLength(40);
    expect(events.at(-1).counters['faces.classified']).toBeGreaterThan(1);
    // both gender checks ran: the event says whether each agreed
    expect(a.gender.check).toMatch(/^(agrees|disagrees)$/);
    expect(Object.keys(a.gender.checks).sort()).toEqual(['face-api', 'network']);
    for (const v of Object.values(a.gender.checks)) expect(v).toMatch(/^(agrees|disagrees)$/);
    if (a.gender.check === 'disagrees') expect(a.gender.grade).toMatch(/^[CD]$/);
  });

  it('attributes.checks []: no gender check, no `check` in the events; face-api still looks for the age and gender (faceApiAgeShare, faceApiGenderShare), and a share of 0 leaves that answer to the network alone', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-nocheck-'));
    const run = (extra: string) => {
      const yaml = fs.readFileSync(path.join(PROJECT_ROOT, 'pipelines', 'default.yaml'), 'utf8').replace(/^(\s+)maxBatch: 32$/m, `$1maxBatch: 32\n$1checks: []${extra ? `\n$1${extra}` : ''}`);
      expect(yaml).toMatch(/checks: \[\]/);
      const file = path.join(dir, `p${extra.replace(/\W/g, '')}.yaml`);
      fs.writeFileSync(file, yaml);
      const r = spawnSync(process.execPath, [bin, 'analyze', video('talking-d3.mp4'), '--json', '--pipeline', file], { encoding: 'utf8', timeout: 120_000 });
      expect(r.status, r.stderr).toBe(0);
      const ended = r.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.type === 'track.ended');
      expect(ended).toHaveLength(1);
      return ended[0].attributes;
    };
    try {
      const a = run('');
      expect(a.gender.grade).toMatch(/^[SABCD]$/);
      expect(a.gender).not.toHaveProperty('check');
      expect(a.gender).not.toHaveProperty('checks');
      const alone = run('faceApiAgeShare: 0');
      expect(alone.gender).toEqual(a.gender);
      expect(alone.age).toBeGreaterThan(0);
      // face-api's looks moved the blended age (on talking-d0 the two models' means happen to agree to 0.1 year)
      expect(Math.abs(alone.age - a.age)).toBeGreaterThan(1);
      // the gender: the same value (both models say female here), the blend surer than the network's vote alone
      const network = run('faceApiGenderShare: 0');
      expect(network.age).toBe(a.age);
      expect(network.gender.value).toBe(a.gender.value);
      expect(network.gender.probability).not.toBe(a.gender.probability);
      expect(network.gender.frames).toBe(a.gender.frames);
      expect(network.gender.confidence).toBe(a.gender.confidence);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
