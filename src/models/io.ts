/**
 * Saving and loading tfjs models in tfjs' own format (model.json + weight shards) on the
 * local file system. The union `@tensorflow/tfjs` package has no `file://` handler in
 * Node without tfjs-node, so the project carries this small one.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { tf } from '../runtime/index.ts';
import { FacestreamError } from '../errors.ts';
import { log } from '../log.ts';

interface ModelJson {
  modelTopology: object;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
  userDefinedMetadata?: Record<string, unknown>;
}

/** Writes `dir/model.json` and `dir/weights.bin`. */
export async function saveModel(model: tf.LayersModel, dir: string, metadata?: Record<string, unknown>): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData;
      const buffers = data == null ? [] : Array.isArray(data) ? data : [data];
      const bin = Buffer.concat(buffers.map((b) => Buffer.from(b)));
      fs.writeFileSync(path.join(dir, 'weights.bin'), bin);
      const json: ModelJson = {
        modelTopology: artifacts.modelTopology as object,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: 'facestream',
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
        ...(metadata ? { userDefinedMetadata: metadata } : {}),
      };
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: bin.length } };
    }),
  );
}

/** Size and sha256 of each file of a saved model, for its manifest. */
export function fileManifest(dir: string, files = ['model.json', 'weights.bin']): Array<{ file: string; bytes: number; sha256: string }> {
  return files.map((file) => {
    const data = fs.readFileSync(path.join(dir, file));
    return { file, bytes: data.length, sha256: crypto.createHash('sha256').update(data).digest('hex') };
  });
}

/** Reads the artifacts of `dir/model.json` (or a path to a model.json). */
export function readArtifacts(where: string): tf.io.ModelArtifacts & { file: string } {
  const file = where.endsWith('.json') ? where : path.join(where, 'model.json');
  let json: ModelJson;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8')) as ModelJson;
  } catch (err) {
    throw new FacestreamError('FS_ERR_MODEL', `cannot read model ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new FacestreamError('FS_ERR_MODEL', `${file} is not a tfjs layers model (no modelTopology/weightsManifest)`);
  }
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Buffer[] = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) buffers.push(fs.readFileSync(path.join(path.dirname(file), p)));
  }
  const all = Buffer.concat(buffers);
  const expected = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) * 4, 0);
  if (all.length !== expected) {
    throw new FacestreamError(
      'FS_ERR_MODEL',
      `${file}: weight files hold ${all.length} bytes but the manifest describes ${expected}; the shards are truncated or belong to another model`,
    );
  }
  return {
    file,
    modelTopology: json.modelTopology,
    weightSpecs: specs,
    weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
    format: json.format,
    userDefinedMetadata: json.userDefinedMetadata,
  } as tf.io.ModelArtifacts & { file: string };
}

/**
 * Loads a layers model from a folder. `expectInput` (without the batch axis) guards
 * against a model file meant for something else.
 */
export async function loadModel(where: string, expectInput?: number[]): Promise<tf.LayersModel> {
  const artifacts = readArtifacts(where);
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (err) {
    throw new FacestreamError('FS_ERR_MODEL', `${artifacts.file}: ${(err as Error).message}`, { cause: err });
  }
  if (expectInput) {
    const got = (model.inputs[0]!.shape ?? []).slice(1);
    if (got.length !== expectInput.length || got.some((d, i) => d !== expectInput[i])) {
      model.dispose();
      throw new FacestreamError(
        'FS_ERR_MODEL',
        `${artifacts.file}: input shape [${got.join(',')}] does not match the expected [${expectInput.join(',')}]`,
      );
    }
  }
  return model;
}

/**
 * Whether `dir/model.onnx` is the ONNX graph of the folder's weights: the manifest's `onnx`
 * entry (lab/onnx/export.ts writes it) names the file's sha256 and the sha256 of the
 * weights.bin it was made from, and both files still match. A stale or foreign model.onnx
 * is logged and not used (the tfjs weights run instead); none at all is false, silently.
 */
export function checkOnnxFile(dir: string): boolean {
  const file = path.join(dir, 'model.onnx');
  if (!fs.existsSync(file)) return false;
  const sha = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
  let entry: { sha256?: string; weightsSha256?: string } | undefined;
  try {
    entry = (JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { onnx?: { sha256?: string; weightsSha256?: string } }).onnx;
  } catch {
    entry = undefined;
  }
  const why = !entry ? 'the manifest has no onnx entry'
    : entry.sha256 !== sha(file) ? 'model.onnx does not match the manifest\'s sha256'
    : entry.weightsSha256 !== sha(path.join(dir, 'weights.bin')) ? 'it was exported from other weights than weights.bin'
    : undefined;
  if (why) log.warn(`${file} not used: ${why}; the tfjs weights run (re-export it with the lab's export)`);
  return !why;
}
