import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../data.ts';
import { frameElement, getElement } from '../pipeline/registry.ts';
import { SharedResources } from '../pipeline/shared.ts';
import '../runner/elements.ts';
import type { AnalysedFrame } from '../pipeline/types.ts';

const shared = new SharedResources();
const ctx = { stream: 't', live: false, count: () => {}, emit: () => {}, shared };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-align-'));
afterAll(async () => {
  fs.rmSync(tmp, { recursive: true, force: true });
  await shared.dispose();
});

/** A 200x200 frame with a gradient (so that framing shows in the pixels) and one face. */
const frame = (): AnalysedFrame => {
  const data = new Uint8Array(200 * 200 * 3);
  for (let i = 0; i < 200 * 200; i++) { data[i * 3] = i % 200; data[i * 3 + 1] = Math.floor(i / 200); data[i * 3 + 2] = 90; }
  return {
    frame: { source: 't', seq: 0, ptsMs: 0, wallMs: 0, width: 200, height: 200, data },
    detected: true,
    faces: [{ box: { x: 60, y: 60, width: 80, height: 80 }, score: 0.9, flags: [], landmarks5: [[80, 90], [120, 90], [100, 110], [85, 125], [115, 125]] }],
  };
};

describe('align', () => {
  it('cuts crops at the size of the pipeline\'s own attribute model (manifest input), not the default one\'s', async () => {
    const dir = path.join(tmp, 'm80');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ input: [80, 80, 3], inference: { zoom: 0.9 } }));
    const elements = [{ element: 'attributes', options: { model: dir } }];
    const stage = await frameElement('align')!.create({}, { ...ctx, elements });
    const out = await stage.process(frame());
    expect([out.faces[0]!.crop!.width, out.faces[0]!.crop!.height]).toEqual([80, 80]);
  });

  it('through a whole pipeline: a custom model\'s framing (inference.zoom) changes the crop; the shipped model\'s is the default', async () => {
    // a copy of the shipped model whose manifest asks for a wider framing
    const dir = path.join(tmp, 'wide');
    fs.cpSync(path.join(PROJECT_ROOT, 'models', 'attributes'), dir, { recursive: true });
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    manifest.inference = { ...manifest.inference, zoom: 0.7 };
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    // align reads the framing of the pipeline's attribute model (no detector: the frame brings its face)
    const el = (element: string, o: object) => ({ element, options: getElement(element)!.options.parse(o) as Record<string, unknown> });
    const crop = async (attributes: object) => {
      const elements = [el('ingest', {}), el('align', {}), el('attributes', attributes)];
      const stage = await frameElement('align')!.create(elements[1]!.options, { ...ctx, elements });
      try {
        return (await stage.process(frame())).faces[0]!.crop!;
      } finally {
        stage.dispose?.();
      }
    };
    const shipped = await crop({});
    const wide = await crop({ model: dir });
    expect(wide.width).toBe(shipped.width);
    expect(Buffer.compare(Buffer.from(wide.data), Buffer.from(shipped.data))).not.toBe(0);
  });
});
