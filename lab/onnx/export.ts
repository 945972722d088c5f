/**
 * A trained, folded tfjs LayersModel as an ONNX graph, written from TypeScript (no
 * Python, no converter package): the layers the project's networks use (Conv2D with
 * relu/linear, MaxPooling2D, Flatten, Dropout, Dense, Average, Add, ReLU, UpSampling2D,
 * the pixel shuffle of TRGAN) become ONNX operators (opset 13) in NCHW, the layout ONNX
 * convolutions take. The graph keeps the tfjs model's interface: input NHWC float32 in
 * [0, 1] with a symbolic batch, outputs under the tfjs output names and shapes (an image
 * output goes back to NHWC; Flatten reads NHWC order, so Dense weights apply unchanged).
 * A layer it does not know is an error that names it.
 */
import fs from 'node:fs';
import crypto from 'node:crypto';
import path from 'node:path';
import { tf } from '../runtime.ts';
import { encodeModel, type OnnxGraph, type OnnxNode, type OnnxTensor } from './proto.ts';
import { requireOnnxRuntime } from '../../src/runtime/onnx.ts';

type Layout = 'nchw' | 'flat';

interface Built { graph: OnnxGraph; unsupported: string[] }

const toNchw = [0, 3, 1, 2];
/** A layer's output inside the graph (the graph's own inputs and outputs keep the tfjs names). */
const T = (layer: string) => `${layer}:0`;
const toNhwc = [0, 2, 3, 1];

/** tfjs kernel [kh, kw, in, out] -> ONNX [out, in, kh, kw]. */
function convKernel(w: tf.Tensor): { data: Float32Array; dims: number[] } {
  const t = tf.transpose(w, [3, 2, 0, 1]);
  const data = t.dataSync() as Float32Array;
  const dims = t.shape;
  t.dispose();
  return { data: Float32Array.from(data), dims };
}

/** 'same' padding of a stride-1 kernel as TensorFlow places it (the extra pixel at the end). */
function samePads(k: number[]): number[] {
  const begin = k.map((x) => Math.floor((x - 1) / 2));
  const end = k.map((x) => Math.ceil((x - 1) / 2));
  return [...begin, ...end];
}

function inboundNames(layer: tf.layers.Layer): string[] {
  const node = (layer as unknown as { inboundNodes: Array<{ inboundLayers: tf.layers.Layer[]; tensorIndices: number[] }> }).inboundNodes[0];
  return node ? node.inboundLayers.map((l) => l.name) : [];
}

export function layersToOnnx(model: tf.LayersModel, name = model.name): Built {
  const nodes: OnnxNode[] = [];
  const initializers: OnnxTensor[] = [];
  const layout = new Map<string, Layout>();
  const unsupported: string[] = [];
  const weight = (n: string, data: Float32Array, dims: number[]) => { initializers.push({ name: n, dims, data }); return n; };
  const int64 = (n: string, values: number[]) => { initializers.push({ name: n, dims: [values.length], data: BigInt64Array.from(values.map(BigInt)) }); return n; };
  const activation = (layer: tf.layers.Layer, pre: string, out: string) => {
    const act = (layer.getConfig() as { activation?: string }).activation ?? 'linear';
    if (act === 'linear') return false;
    if (act !== 'relu') throw new Error(`layer ${layer.name}: activation ${act} has no ONNX mapping here`);
    nodes.push({ op: 'Relu', inputs: [pre], outputs: [out], name: `${layer.name}/relu` });
    return true;
  };
  const inputLayer = model.inputLayers[0]!;
  const inShape = model.inputs[0]!.shape;
  if (model.inputs.length !== 1 || inShape.length !== 4) throw new Error('the exporter handles one NHWC image input');

  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const out = T(layer.name);
    const ins = inboundNames(layer).map(T);
    const cfg = layer.getConfig() as Record<string, unknown>;
    switch (cls) {
      case 'InputLayer':
        nodes.push({ op: 'Transpose', inputs: [`${out}__nhwc`], outputs: [out], name: `${out}/to_nchw`, attributes: { perm: toNchw } });
        layout.set(out, 'nchw');
        break;
      case 'Conv2D': {
        const [k, b] = layer.getWeights();
        const strides = cfg.strides as number[], dil = cfg.dilationRate as number[], size = cfg.kernelSize as number[];
        if (strides.some((s) => s !== 1) && cfg.padding === 'same') throw new Error(`layer ${out}: strided 'same' convolution is not mapped`);
        if (dil.some((d) => d !== 1)) throw new Error(`layer ${out}: dilated convolution is not mapped`);
        const kw = convKernel(k!);
        const inputs = [ins[0]!, weight(`${out}/kernel`, kw.data, kw.dims)];
        if (b) inputs.push(weight(`${out}/bias`, Float32Array.from(b.dataSync()), b.shape));
        const pre = `${out}/conv`;
        nodes.push({ op: 'Conv', inputs, outputs: [pre], name: out, attributes: { kernel_shape: size, strides, pads: cfg.padding === 'same' ? samePads(size) : [0, 0, 0, 0], dilations: dil, group: 1 } });
        if (!activation(layer, pre, out)) nodes[nodes.length - 1]!.outputs = [out];
        layout.set(out, 'nchw');
        break;
      }
      case 'MaxPooling2D': {
        if (cfg.padding !== 'valid') throw new Error(`layer ${out}: only 'valid' max pooling is mapped`);
        nodes.push({ op: 'MaxPool', inputs: [ins[0]!], outputs: [out], name: out, attributes: { kernel_shape: cfg.poolSize as number[], strides: cfg.strides as number[] } });
        layout.set(out, 'nchw');
        break;
      }
      case 'Flatten': {
        const src = ins[0]!;
        const from = layout.get(src) === 'nchw' ? `${out}/nhwc` : src;
        if (layout.get(src) === 'nchw') nodes.push({ op: 'Transpose', inputs: [src], outputs: [from], name: `${out}/to_nhwc`, attributes: { perm: toNhwc } });
        nodes.push({ op: 'Flatten', inputs: [from], outputs: [out], name: out, attributes: { axis: 1 } });
        layout.set(out, 'flat');
        break;
      }
      case 'Dropout':
        nodes.push({ op: 'Identity', inputs: [ins[0]!], outputs: [out], name: out });
        layout.set(out, layout.get(ins[0]!)!);
        break;
      case 'ReLU':
        nodes.push({ op: 'Relu', inputs: [ins[0]!], outputs: [out], name: out });
        layout.set(out, layout.get(ins[0]!)!);
        break;
      case 'Dense': {
        if (layout.get(ins[0]!) !== 'flat') throw new Error(`layer ${out}: Dense on a tensor of more than two axes is not mapped`);
        const [w, b] = layer.getWeights();
        const inputs = [ins[0]!, weight(`${out}/kernel`, Float32Array.from(w!.dataSync()), w!.shape)];
        if (b) inputs.push(weight(`${out}/bias`, Float32Array.from(b.dataSync()), b.shape));
        const pre = `${out}/gemm`;
        nodes.push({ op: 'Gemm', inputs, outputs: [pre], name: out });
        if (!activation(layer, pre, out)) nodes[nodes.length - 1]!.outputs = [out];
        layout.set(out, 'flat');
        break;
      }
      case 'Average':
        nodes.push({ op: 'Mean', inputs: ins, outputs: [out], name: out });
        layout.set(out, layout.get(ins[0]!)!);
        break;
      case 'Add':
        nodes.push({ op: 'Sum', inputs: ins, outputs: [out], name: out });
        layout.set(out, layout.get(ins[0]!)!);
        break;
      case 'UpSampling2D': {
        const size = cfg.size as number[];
        const interpolation = (cfg.interpolation as string | undefined) ?? 'nearest';
        // tfjs resizes with align_corners and half_pixel_centers off: ONNX's 'asymmetric'
        nodes.push({
          op: 'Resize', inputs: [ins[0]!, '', weight(`${out}/scales`, Float32Array.from([1, 1, size[0]!, size[1]!]), [4])], outputs: [out], name: out,
          attributes: interpolation === 'bilinear'
            ? { mode: 'linear', coordinate_transformation_mode: 'asymmetric' }
            : { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' },
        });
        layout.set(out, 'nchw');
        break;
      }
      case 'FacestreamPixelShuffle':
        // reshape [n,h,w,2,2,c] -> [n,h,2,w,2,c]: channel (dy * 2 + dx) * c + k, DepthToSpace's DCR order
        nodes.push({ op: 'DepthToSpace', inputs: [ins[0]!], outputs: [out], name: out, attributes: { blocksize: 2, mode: 'DCR' } });
        layout.set(out, 'nchw');
        break;
      default:
        unsupported.push(`${out} (${cls})`);
    }
  }
  if (unsupported.length) throw new Error(`layers without an ONNX mapping: ${unsupported.join(', ')}`);
  if (inputLayer.name !== model.layers[0]!.name) throw new Error('the input layer is not the first layer');
  nodes[0]!.inputs = [inputLayer.name];
  const outputs = model.outputNames.map((n, i) => {
    const src = T(model.outputLayers[i]!.name);
    if (layout.get(src) === 'nchw') nodes.push({ op: 'Transpose', inputs: [src], outputs: [n], name: `${n}/to_nhwc`, attributes: { perm: toNhwc } });
    else nodes.push({ op: 'Identity', inputs: [src], outputs: [n], name: `${n}/out` });
    return { name: n, dims: model.outputs[i]!.shape.map((d, j) => (j === 0 ? 'batch' : d!)) };
  });
  return {
    graph: {
      name, nodes, initializers,
      inputs: [{ name: inputLayer.name, dims: inShape.map((d, j) => (j === 0 ? 'batch' : d!)) }],
      outputs,
    },
    unsupported,
  };
}

/**
 * Writes `model.onnx` beside a saved model: the ONNX graph of the same weights. Returns
 * the file's entry for the manifest (bytes, sha256).
 */
export function writeOnnx(model: tf.LayersModel, dir: string, docString?: string): { file: string; bytes: number; sha256: string } {
  const { graph } = layersToOnnx(model);
  const bytes = encodeModel(graph, { opset: 13, producer: 'facestream lab/onnx/export.ts', docString });
  const file = path.join(dir, 'model.onnx');
  fs.writeFileSync(file, bytes);
  return { file: 'model.onnx', bytes: bytes.length, sha256: crypto.createHash('sha256').update(bytes).digest('hex') };
}

/**
 * `facestream export onnx DIR`: writes DIR/model.onnx from DIR's tfjs model and records it
 * in DIR/manifest.json (`onnx`: file, bytes, sha256, the sha256 of the weights.bin it was
 * made from, the opset, and the largest difference from tfjs on `check` inputs when
 * onnxruntime-node is installed). The product runs it only while both hashes hold
 * (src/models/io.ts checkOnnxFile).
 */
export async function exportOnnxFolder(dir: string, check?: Float32Array[]): Promise<{ onnx: OnnxManifestEntry }> {
  const { loadModel } = await import('../../src/models/io.ts');
  await import('../../src/models/superres/network.ts'); // TRGAN's pixel-shuffle layer, for loading
  const model = await loadModel(dir);
  try {
    const entry = writeOnnx(model, dir, `exported from ${path.basename(dir)}/model.json + weights.bin`);
    const weightsSha256 = crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, 'weights.bin'))).digest('hex');
    const side = model.inputs[0]!.shape.slice(1) as number[];
    const inputs = check ?? [Float32Array.from({ length: 8 * side[0]! * side[1]! * side[2]! }, (_, i) => ((i * 2654435761) % 1000) / 1000)];
    const maxAbsDiffVsTfjs = await compareWithTfjs(model, path.join(dir, 'model.onnx'), inputs);
    const onnx: OnnxManifestEntry = { ...entry, weightsSha256, opset: 13, exporter: 'lab/onnx/export.ts', ...(maxAbsDiffVsTfjs !== undefined ? { maxAbsDiffVsTfjs } : {}) };
    const file = path.join(dir, 'manifest.json');
    const manifest = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown> : {};
    fs.writeFileSync(file, JSON.stringify({ ...manifest, onnx }, null, 1));
    return { onnx };
  } finally {
    model.dispose();
  }
}

export interface OnnxManifestEntry { file: string; bytes: number; sha256: string; weightsSha256: string; opset: number; exporter: string; maxAbsDiffVsTfjs?: number }

/**
 * The largest absolute difference between the tfjs model's outputs and the ONNX graph's
 * on onnxruntime for each NHWC batch in `inputs` (undefined when onnxruntime-node is not
 * installed).
 */
export async function compareWithTfjs(model: tf.LayersModel, file: string, inputs: Float32Array[]): Promise<number | undefined> {
  const { ort } = requireOnnxRuntime();
  if (!ort) return undefined;
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
  const shape = model.inputs[0]!.shape.slice(1) as number[];
  const per = shape.reduce((a, b) => a * b, 1);
  let max = 0;
  try {
    for (const x of inputs) {
      const n = x.length / per;
      const ref = tf.tidy(() => {
        const out = model.predict(tf.tensor(x, [n, ...shape]));
        return (Array.isArray(out) ? out : [out]).map((t) => t.dataSync() as Float32Array);
      });
      const got = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, [n, ...shape]) });
      model.outputNames.forEach((name, i) => {
        const a = ref[i]!, b = got[name]!.data as Float32Array;
        if (a.length !== b.length) throw new Error(`output ${name}: ${b.length} values from ONNX, ${a.length} from tfjs`);
        for (let j = 0; j < a.length; j++) max = Math.max(max, Math.abs(a[j]! - b[j]!));
      });
    }
  } finally {
    await session.release();
  }
  return max;
}
