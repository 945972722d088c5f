/**
 * `superres`: faces narrower than `below` pixels in the analysed frame are re-cut from the
 * frame at the generator's input size (16x16 for x4, 8x8 for x8: about what the camera
 * has of them) and upscaled by the TRGAN generator to the 64x64 aligned crop the attribute
 * model reads; bigger faces keep align's crop. Batched (at most `maxBatch` faces a frame).
 * A small face that the quality gate skipped only for blur is taken back (`rescue`): at
 * that size the Laplacian measures the missing pixels, which is what the generator adds.
 * Place it after `align` and before `attributes`.
 *
 * @example
 *   - superres: { below: 32, scale: 4 }
 */
import path from 'node:path';
import { z } from 'zod';
import { alignmentMatrix } from '../calculators/similarity.ts';
import { warpAffine, type RgbImage } from '../calculators/warp.ts';
import { PROJECT_ROOT } from '../data.ts';
import { readInferenceSettings } from '../models/attributes/model.ts';
import { checkOnnxFile, loadModel } from '../models/io.ts';
import { onnxEngine } from '../runtime/onnx.ts';
import { HR_SIZE } from '../models/superres/network.ts';
import { optionsOf, registerElement } from '../pipeline/registry.ts';
import type { AnalysedFrame, FaceObservation } from '../pipeline/types.ts';
import { initRuntime, tf } from '../runtime/index.ts';

export const superresOptions = z.strictObject({
  model: z.string().optional().describe('Folder of the generator; by default the shipped models/superres/x{scale}.'),
  scale: z.union([z.literal(4), z.literal(8)]).default(4),
  below: z.number().min(4).max(256).default(32).describe('Faces narrower than this (px in the analysed frame) are super-resolved.'),
  maxBatch: z.number().int().min(1).max(256).default(32),
  rescue: z.boolean().default(true),
  zoom: z.number().min(0.3).max(2).optional().describe('Framing of the crop; by default the attribute model\'s (as `align`).'),
});
export type SuperresOptions = z.infer<typeof superresOptions>;


/** Upscales crops of size 64/scale to 64x64 with the generator, in one batch. */
export function upscaleCrops(model: tf.LayersModel, crops: RgbImage[]): RgbImage[] {
  if (!crops.length) return [];
  const s = crops[0]!.width;
  const per = s * s * 3;
  const x = new Float32Array(crops.length * per);
  crops.forEach((c, i) => { for (let j = 0; j < per; j++) x[i * per + j] = c.data[j]! / 255; });
  const out = tf.tidy(() => {
    const y = model.predict(tf.tensor4d(x, [crops.length, s, s, 3])) as tf.Tensor;
    return tf.clipByValue(tf.mul(y, 255), 0, 255).round().dataSync();
  });
  const hp = HR_SIZE * HR_SIZE * 3;
  return crops.map((_, i) => ({ width: HR_SIZE, height: HR_SIZE, data: Uint8Array.from(out.subarray(i * hp, (i + 1) * hp)) }));
}

/** The generator on the process's engine: its ONNX graph on onnxruntime when the folder has one (src/runtime/onnx.ts), else tfjs. */
interface Generator { upscale(crops: RgbImage[]): Promise<RgbImage[]>; dispose(): void }

async function loadGenerator(dir: string, low: number): Promise<Generator> {
  const model = await loadModel(dir, [low, low, 3]);
  const engine = await onnxEngine();
  if (!engine || !checkOnnxFile(dir)) return { upscale: async (crops) => upscaleCrops(model, crops), dispose: () => model.dispose() };
  model.dispose(); // loaded to check the folder; the ONNX graph of the same weights runs
  const session = await engine.load(path.join(dir, 'model.onnx'));
  return {
    async upscale(crops) {
      if (!crops.length) return [];
      const per = low * low * 3;
      const x = new Float32Array(crops.length * per);
      crops.forEach((c, i) => { for (let j = 0; j < per; j++) x[i * per + j] = c.data[j]! / 255; });
      const out = await session.run({ [session.inputNames[0]!]: { data: x, dims: [crops.length, low, low, 3] } });
      const y = out[session.outputNames[0]!]!.data;
      const hp = HR_SIZE * HR_SIZE * 3;
      return crops.map((_, i) => {
        const data = new Uint8Array(hp);
        for (let j = 0; j < hp; j++) data[j] = Math.round(Math.min(255, Math.max(0, y[i * hp + j]! * 255)));
        return { width: HR_SIZE, height: HR_SIZE, data };
      });
    },
    dispose: () => { void session.dispose(); },
  };
}

registerElement({
  name: 'superres',
  after: ['quality', 'align'],
  description: 'TRGAN super-resolution of small faces before the attribute model',
  options: superresOptions,
  create: async (o, ctx) => {
    await initRuntime();
    const dir = o.model ?? path.join(PROJECT_ROOT, 'models', 'superres', `x${o.scale}`);
    const low = HR_SIZE / o.scale;
    const generator = await ctx.shared.get(`superres:${dir}`, () => loadGenerator(dir, low), (g: Generator) => { g.dispose(); });
    const zoom = o.zoom ?? readInferenceSettings(optionsOf<{ model?: string }>(ctx, 'attributes')?.model).zoom;
    return {
      async process(item: AnalysedFrame): Promise<AnalysedFrame> {
        const todo: FaceObservation[] = [];
        for (const face of item.faces) {
          if (face.predicted || !face.quality || face.quality.widthPx >= o.below) continue;
          if (face.skipped === 'blur' && o.rescue && !face.rescued) {
            face.rescued = true; // the gate's verdict stays; this element adds its own
            ctx.count('superres.rescued');
          }
          if (face.skipped && !face.rescued) continue;
          if (todo.length < o.maxBatch) todo.push(face);
        }
        if (!todo.length) return item;
        const crops = todo.map((f) => warpAffine(item.frame, alignmentMatrix(f.landmarks5, low, zoom), low, low));
        (await generator.upscale(crops)).forEach((crop, i) => {
          todo[i]!.crop = crop;
          todo[i]!.flags.push('superres');
        });
        ctx.count('superres.faces', todo.length);
        return item;
      },
    };
  },
});
