/**
 * The face networks that ship inside other npm packages, as ONNX graphs, converted from
 * their tfjs weights by a committed, reproducible step (`facestream export onnx-faces`):
 *
 *   BlazeFace (`@vladmandic/human/models/blazeface.json`, MIT): a tfjs graph model of
 *     _FusedConv2D, DepthwiseConv2dNative, AddV2, Relu, MaxPool, Pad, Reshape and
 *     Identity nodes; each becomes its ONNX operator in NCHW (Reshape reads NHWC order, so
 *     its input goes back to NHWC first). The batch axis is left free, so the tiles of a
 *     frame run in one call.
 *   face-api's 68-point landmark net (`@vladmandic/face-api/model/face_landmark_68_model`,
 *     MIT): built op by op from the library's own weights as its code runs them
 *     (normalisation, four dense blocks of depthwise-separable convolutions, 7x7 average
 *     pooling, the fully connected layer): 112x112 RGB in 0-255 to 136 coordinates in 0-1.
 *
 * A node this converter does not know is an error that names it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { tf } from '../runtime.ts';
import type { OnnxGraph, OnnxNode, OnnxTensor } from './proto.ts';

const toNchw = [0, 3, 1, 2];
const toNhwc = [0, 2, 3, 1];

interface GraphNode { name: string; op: string; input?: string[]; attr?: Record<string, { s?: string; i?: string; list?: { i?: string[]; s?: string[] }; f?: number }> }

const str = (b64?: string) => (b64 ? Buffer.from(b64, 'base64').toString('utf8') : '');
const ints = (a?: { list?: { i?: string[] } }) => (a?.list?.i ?? []).map(Number);

/** The weights of a tfjs graph model folder entry (`name.json` + its .bin), decoded. */
export function readGraphModel(json: string): { nodes: GraphNode[]; weights: tf.NamedTensorMap } {
  const spec = JSON.parse(fs.readFileSync(json, 'utf8')) as { modelTopology: { node: GraphNode[] }; weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }> };
  const specs = spec.weightsManifest.flatMap((g) => g.weights);
  const bin = Buffer.concat(spec.weightsManifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(path.dirname(json), p)))));
  const weights = tf.io.decodeWeights(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength), specs);
  return { nodes: spec.modelTopology.node, weights };
}

/** tfjs graph JSON -> ONNX (the ops BlazeFace uses). */
export function graphToOnnx(json: string, name: string): OnnxGraph {
  const { nodes: src, weights } = readGraphModel(json);
  const nodes: OnnxNode[] = [];
  const initializers: OnnxTensor[] = [];
  const layout = new Map<string, 'nchw' | 'other'>();
  const consts = new Map<string, tf.Tensor>();
  const f32 = (n: string, t: tf.Tensor, perm?: number[], shape?: number[]) => {
    const x = tf.tidy(() => { let y = perm ? tf.transpose(t, perm) : t; if (shape) y = tf.reshape(y, shape); return y.clone(); });
    initializers.push({ name: n, dims: x.shape, data: Float32Array.from(x.dataSync()) });
    x.dispose();
    return n;
  };
  const i64 = (n: string, v: number[]) => { initializers.push({ name: n, dims: [v.length], data: BigInt64Array.from(v.map(BigInt)) }); return n; };
  const ref = (input: string) => input.replace(/^\^/, '').replace(/:0$/, '');
  const inputs: OnnxGraph['inputs'] = [];
  const outputs: OnnxGraph['outputs'] = [];
  const autoPad = (p: string) => (p === 'SAME' ? 'SAME_UPPER' : 'VALID');
  for (const n of src) {
    const ins = (n.input ?? []).map(ref);
    const a = n.attr ?? {};
    const out = n.name;
    switch (n.op) {
      case 'Const': {
        const t = weights[n.name];
        if (!t) throw new Error(`${json}: constant ${n.name} has no weights`);
        consts.set(n.name, t);
        break;
      }
      case 'Placeholder': {
        const dims = (a.shape as unknown as { shape: { dim: Array<{ size: string }> } }).shape.dim.map((d, i) => (i === 0 ? 'batch' : Number(d.size)));
        inputs.push({ name: out, dims });
        nodes.push({ op: 'Transpose', inputs: [out], outputs: [`${out}:nchw`], name: `${out}/to_nchw`, attributes: { perm: toNchw } });
        layout.set(out, 'nchw');
        break;
      }
      case '_FusedConv2D': {
        const fused = (a.fused_ops?.list?.s ?? []).map(str);
        if (str(a.data_format?.s) !== 'NHWC' || fused[0] !== 'BiasAdd' || fused.length > 2 || (fused[1] && fused[1] !== 'Relu')) throw new Error(`node ${out}: _FusedConv2D with ${fused.join('+')} is not mapped`);
        const k = consts.get(ins[1]!)!;
        const [kh, kw] = k.shape;
        const pre = fused[1] ? `${out}/conv` : out;
        nodes.push({
          op: 'Conv', inputs: [x(ins[0]!), f32(`${out}/kernel`, k, [3, 2, 0, 1]), f32(`${out}/bias`, consts.get(ins[2]!)!)], outputs: [t(pre)], name: out,
          attributes: { kernel_shape: [kh!, kw!], strides: ints(a.strides).slice(1, 3), dilations: ints(a.dilations).slice(1, 3), auto_pad: autoPad(str(a.padding?.s)) },
        });
        if (fused[1]) nodes.push({ op: 'Relu', inputs: [t(pre)], outputs: [t(out)], name: `${out}/relu` });
        layout.set(out, 'nchw');
        break;
      }
      case 'DepthwiseConv2dNative': {
        const k = consts.get(ins[1]!)!;
        const [kh, kw, cin, mult] = k.shape as number[];
        nodes.push({
          op: 'Conv', inputs: [x(ins[0]!), f32(`${out}/kernel`, k, [2, 3, 0, 1], [cin! * mult!, 1, kh!, kw!])], outputs: [t(out)], name: out,
          attributes: { kernel_shape: [kh!, kw!], strides: ints(a.strides).slice(1, 3), dilations: ints(a.dilations).slice(1, 3), group: cin!, auto_pad: autoPad(str(a.padding?.s)) },
        });
        layout.set(out, 'nchw');
        break;
      }
      case 'AddV2': case 'Add':
        nodes.push({ op: 'Add', inputs: ins.map(x), outputs: [t(out)], name: out });
        layout.set(out, layout.get(ins[0]!)!);
        break;
      case 'Relu':
        nodes.push({ op: 'Relu', inputs: [x(ins[0]!)], outputs: [t(out)], name: out });
        layout.set(out, layout.get(ins[0]!)!);
        break;
      case 'MaxPool':
        nodes.push({ op: 'MaxPool', inputs: [x(ins[0]!)], outputs: [t(out)], name: out, attributes: { kernel_shape: ints(a.ksize).slice(1, 3), strides: ints(a.strides).slice(1, 3), auto_pad: autoPad(str(a.padding?.s)) } });
        layout.set(out, 'nchw');
        break;
      case 'Pad': {
        const p = Array.from(consts.get(ins[1]!)!.dataSync()); // NHWC [[n0,n1],[h0,h1],[w0,w1],[c0,c1]]
        const [n0, n1, h0, h1, w0, w1, c0, c1] = p as number[];
        nodes.push({ op: 'Pad', inputs: [x(ins[0]!), i64(`${out}/pads`, [n0!, c0!, h0!, w0!, n1!, c1!, h1!, w1!])], outputs: [t(out)], name: out, attributes: { mode: 'constant' } });
        layout.set(out, 'nchw');
        break;
      }
      case 'Reshape': {
        const shape = Array.from(consts.get(ins[1]!)!.dataSync());
        const src0 = ins[0]!;
        let from = x(src0);
        if (layout.get(src0) === 'nchw') { from = `${t(out)}/nhwc`; nodes.push({ op: 'Transpose', inputs: [x(src0)], outputs: [from], name: `${out}/to_nhwc`, attributes: { perm: toNhwc } }); }
        nodes.push({ op: 'Reshape', inputs: [from, i64(`${out}/shape`, [-1, ...shape.slice(1)])], outputs: [t(out)], name: out });
        layout.set(out, 'other');
        break;
      }
      case 'Identity': {
        if (layout.get(ins[0]!) === 'nchw') throw new Error(`node ${out}: an image-shaped graph output is not mapped`);
        nodes.push({ op: 'Identity', inputs: [x(ins[0]!)], outputs: [out], name: `${out}/out` });
        outputs.push({ name: out, dims: ['batch', -1, -1] });
        break;
      }
      default:
        throw new Error(`${json}: node ${out} (${n.op}) has no ONNX mapping here`);
    }
  }
  for (const o of outputs) o.dims = ['batch', 'n', 'k'];
  return { name, nodes, initializers, inputs, outputs };

  // a node's output inside the graph; a placeholder's is its NCHW copy
  function t(n: string) { return `${n}:0`; }
  function x(n: string) { return inputs.some((i) => i.name === n) ? `${n}:nchw` : t(n); }
}

/** face-api's 68-point landmark net from the library's loaded parameters -> ONNX. */
export function landmarkNetToOnnx(params: LandmarkParams): OnnxGraph {
  const nodes: OnnxNode[] = [];
  const initializers: OnnxTensor[] = [];
  const f32 = (n: string, t: tf.Tensor, perm?: number[], shape?: number[]) => {
    const x = tf.tidy(() => { let y = perm ? tf.transpose(t, perm) : t; if (shape) y = tf.reshape(y, shape); return y.clone(); });
    initializers.push({ name: n, dims: x.shape, data: Float32Array.from(x.dataSync()) });
    x.dispose();
    return n;
  };
  let id = 0;
  const node = (op: string, inputs: string[], attributes?: OnnxNode['attributes']) => {
    const out = `${op.toLowerCase()}_${id++}`;
    nodes.push({ op, inputs, outputs: [out], name: out, ...(attributes ? { attributes } : {}) });
    return out;
  };
  // input: [batch, 112, 112, 3] RGB 0-255 -> (x - mean) / 255, NCHW
  const input = 'face';
  const meanRgb = tf.tensor1d([122.782, 117.001, 104.298]);
  let x = node('Sub', [input, f32('mean_rgb', meanRgb)]);
  meanRgb.dispose();
  const inv = tf.scalar(1 / 255);
  x = node('Mul', [x, f32('inv_255', inv)]);
  inv.dispose();
  x = node('Transpose', [x], { perm: toNchw });
  const sep = (v: string, p: SeparableParams, stride: number, at: string) => {
    const [kh, kw, cin] = p.depthwise_filter.shape as number[];
    const dw = node('Conv', [v, f32(`${at}/depthwise`, p.depthwise_filter, [2, 3, 0, 1], [cin!, 1, kh!, kw!])], { kernel_shape: [kh!, kw!], strides: [stride, stride], group: cin!, auto_pad: 'SAME_UPPER' });
    return node('Conv', [dw, f32(`${at}/pointwise`, p.pointwise_filter, [3, 2, 0, 1]), f32(`${at}/bias`, p.bias)], { kernel_shape: [1, 1] });
  };
  const dense = (v: string, p: DenseParams, first: boolean, at: string) => {
    const c0 = first
      ? node('Conv', [v, f32(`${at}/conv0/filters`, (p.conv0 as ConvParams).filters, [3, 2, 0, 1]), f32(`${at}/conv0/bias`, p.conv0.bias)], { kernel_shape: [3, 3], strides: [2, 2], auto_pad: 'SAME_UPPER' })
      : sep(v, p.conv0 as SeparableParams, 2, `${at}/conv0`);
    const out1 = node('Relu', [c0]);
    const out2 = sep(out1, p.conv1, 1, `${at}/conv1`);
    const in3 = node('Relu', [node('Add', [out1, out2])]);
    const out3 = sep(in3, p.conv2, 1, `${at}/conv2`);
    const in4 = node('Relu', [node('Sum', [out1, out2, out3])]);
    const out4 = sep(in4, p.conv3, 1, `${at}/conv3`);
    return node('Relu', [node('Sum', [out1, out2, out3, out4])]);
  };
  x = dense(x, params.dense0, true, 'dense0');
  x = dense(x, params.dense1, false, 'dense1');
  x = dense(x, params.dense2, false, 'dense2');
  x = dense(x, params.dense3, false, 'dense3');
  x = node('AveragePool', [x], { kernel_shape: [7, 7], strides: [2, 2] });
  x = node('Flatten', [x], { axis: 1 });
  const y = node('Gemm', [x, f32('fc/weights', params.fc.weights), f32('fc/bias', params.fc.bias)]);
  nodes.push({ op: 'Identity', inputs: [y], outputs: ['landmarks'], name: 'landmarks' });
  return { name: 'face_landmark_68', nodes, initializers, inputs: [{ name: input, dims: ['batch', 112, 112, 3] }], outputs: [{ name: 'landmarks', dims: ['batch', 136] }] };
}

/**
 * face-api's recognition net (a ResNet-34 like dlib's; 150x150 RGB 0-255 in, 128 numbers
 * out) from the library's loaded parameters -> ONNX, as its code runs it: each conv with
 * its per-channel scale layer, the weights kept as the library's uint8 (`quantization`:
 * its manifest's scale and minimum per weight), residual blocks, the
 * down-sampling blocks' average-pooled shortcut padded with zero channels and the main
 * path padded with a zero row and column where the sizes differ, global mean, the dense
 * layer.
 */
export function recognitionNetToOnnx(params: RecognitionParams, quantization: Map<string, { scale: number; min: number }> = new Map()): OnnxGraph {
  const nodes: OnnxNode[] = [];
  const initializers: OnnxTensor[] = [];
  let id = 0;
  const node = (op: string, inputs: string[], attributes?: OnnxNode['attributes']) => {
    const out = `${op.toLowerCase()}_${id++}`;
    nodes.push({ op, inputs, outputs: [out], name: out, ...(attributes ? { attributes } : {}) });
    return out;
  };
  const f32 = (n: string, t: tf.Tensor, shape?: number[]) => { initializers.push({ name: n, dims: shape ?? t.shape, data: Float32Array.from(t.dataSync()) }); return n; };
  const i64 = (n: string, v: number[]) => { initializers.push({ name: n, dims: [v.length], data: BigInt64Array.from(v.map(BigInt)) }); return n; };
  /**
   * A weight as the library shipped it: uint8 with its scale and minimum (dequantized in the
   * graph, value = q x scale + min, folded to float32 when the session loads), where the
   * manifest quantized it and every value round-trips; else float32.
   */
  const weight = (n: string, t: tf.Tensor, perm?: number[]) => {
    const q = quantization.get(n);
    const moved = tf.tidy(() => (perm ? tf.transpose(t, perm) : t.clone()));
    try {
      if (q) {
        const v = moved.dataSync() as Float32Array;
        const bytes = Uint8Array.from(v, (x) => Math.round((x - q.min) / q.scale));
        if (bytes.every((b, i) => Math.fround(b * q.scale + q.min) === v[i] || Math.abs(b * q.scale + q.min - v[i]!) < 1e-7)) {
          initializers.push({ name: `${n}/q`, dims: moved.shape, data: bytes });
          initializers.push({ name: `${n}/scale`, dims: [], data: Float32Array.of(q.scale) }, { name: `${n}/min`, dims: [], data: Float32Array.of(q.min) });
          return node('Add', [node('Mul', [node('Cast', [`${n}/q`], { to: 1 }), `${n}/scale`]), `${n}/min`]);
        }
      }
      return f32(n, moved);
    } finally {
      moved.dispose();
    }
  };
  // a conv and its per-channel scale layer; `down`: stride 2, no padding; else stride 1, 'same'
  const conv = (x: string, p: RecognitionConv, at: string, relu: boolean, down: boolean, size: number) => {
    const [kh, kw, , cout] = p.conv.filters.shape as number[];
    const y = node('Conv', [x, weight(`${at}/conv/filters`, p.conv.filters, [3, 2, 0, 1]), f32(`${at}/conv/bias`, p.conv.bias)], { kernel_shape: [kh!, kw!], strides: down ? [2, 2] : [1, 1], ...(down ? {} : { pads: [(kh! - 1) / 2, (kw! - 1) / 2, (kh! - 1) / 2, (kw! - 1) / 2] }) });
    const scaled = node('Add', [node('Mul', [y, f32(`${at}/scale/weights`, p.scale.weights, [1, cout!, 1, 1])]), f32(`${at}/scale/biases`, p.scale.biases, [1, cout!, 1, 1])]);
    return { out: relu ? node('Relu', [scaled]) : scaled, size: down ? Math.floor((size - kh!) / 2) + 1 : size, channels: cout! };
  };
  const residual = (x: string, p: RecognitionResidual, at: string, size: number) => {
    const a = conv(x, p.conv1, `${at}/conv1`, true, false, size);
    const b = conv(a.out, p.conv2, `${at}/conv2`, false, false, size);
    return { out: node('Relu', [node('Add', [b.out, x])]), size, channels: b.channels };
  };
  const residualDown = (x: string, p: RecognitionResidual, at: string, size: number, channels: number) => {
    const a = conv(x, p.conv1, `${at}/conv1`, true, true, size);
    const b = conv(a.out, p.conv2, `${at}/conv2`, false, false, a.size);
    let main = b.out;
    const pooledSize = Math.floor(size / 2);
    let pooled = node('AveragePool', [x], { kernel_shape: [2, 2], strides: [2, 2] });
    if (pooledSize !== b.size) main = node('Pad', [main, i64(`${at}/pad_main`, [0, 0, 0, 0, 0, 0, pooledSize - b.size, pooledSize - b.size])], { mode: 'constant' });
    if (channels !== b.channels) pooled = node('Pad', [pooled, i64(`${at}/pad_short`, [0, 0, 0, 0, 0, b.channels - channels, 0, 0])], { mode: 'constant' });
    return { out: node('Relu', [node('Add', [pooled, main])]), size: pooledSize, channels: b.channels };
  };
  const mean = tf.tensor1d([122.782, 117.001, 104.298]);
  const inv = tf.scalar(1 / 255);
  let x = node('Transpose', [node('Mul', [node('Sub', ['face', f32('mean_rgb', mean)]), f32('inv_255', inv)])], { perm: toNchw });
  tf.dispose([mean, inv]);
  let r = conv(x, params.conv32_down, 'conv32_down', true, true, 150);
  x = node('MaxPool', [r.out], { kernel_shape: [3, 3], strides: [2, 2] });
  let size = Math.floor((r.size - 3) / 2) + 1, channels = r.channels;
  const blocks: Array<[keyof RecognitionParams, boolean]> = [
    ['conv32_1', false], ['conv32_2', false], ['conv32_3', false], ['conv64_down', true], ['conv64_1', false], ['conv64_2', false], ['conv64_3', false],
    ['conv128_down', true], ['conv128_1', false], ['conv128_2', false], ['conv256_down', true], ['conv256_1', false], ['conv256_2', false], ['conv256_down_out', true],
  ];
  for (const [name, down] of blocks) {
    const p = params[name] as RecognitionResidual;
    const o = down ? residualDown(x, p, name, size, channels) : residual(x, p, name, size);
    x = o.out; size = o.size; channels = o.channels;
  }
  const pooled = node('Flatten', [node('GlobalAveragePool', [x])], { axis: 1 });
  const y = node('MatMul', [pooled, weight('fc', params.fc)]);
  nodes.push({ op: 'Identity', inputs: [y], outputs: ['descriptor'], name: 'descriptor' });
  return { name: 'face_recognition', nodes, initializers, inputs: [{ name: 'face', dims: ['batch', 150, 150, 3] }], outputs: [{ name: 'descriptor', dims: ['batch', 128] }] };
}

interface RecognitionConv { conv: { filters: tf.Tensor; bias: tf.Tensor }; scale: { weights: tf.Tensor; biases: tf.Tensor } }
interface RecognitionResidual { conv1: RecognitionConv; conv2: RecognitionConv }
export interface RecognitionParams {
  conv32_down: RecognitionConv; conv32_1: RecognitionResidual; conv32_2: RecognitionResidual; conv32_3: RecognitionResidual;
  conv64_down: RecognitionResidual; conv64_1: RecognitionResidual; conv64_2: RecognitionResidual; conv64_3: RecognitionResidual;
  conv128_down: RecognitionResidual; conv128_1: RecognitionResidual; conv128_2: RecognitionResidual;
  conv256_down: RecognitionResidual; conv256_1: RecognitionResidual; conv256_2: RecognitionResidual; conv256_down_out: RecognitionResidual;
  fc: tf.Tensor;
}

interface ConvParams { filters: tf.Tensor; bias: tf.Tensor }
interface SeparableParams { depthwise_filter: tf.Tensor; pointwise_filter: tf.Tensor; bias: tf.Tensor }
interface DenseParams { conv0: ConvParams | SeparableParams; conv1: SeparableParams; conv2: SeparableParams; conv3: SeparableParams }
export interface LandmarkParams { dense0: DenseParams; dense1: DenseParams; dense2: DenseParams; dense3: DenseParams; fc: { weights: tf.Tensor; bias: tf.Tensor } }

/** The source of each converted face network: package, file, licence. */
export const FACE_NETS = {
  blazeface: { package: '@vladmandic/human', files: ['models/blazeface.json', 'models/blazeface.bin'], licence: 'MIT (@vladmandic/human; the model is MediaPipe\'s BlazeFace, Apache-2.0)' },
  landmarks68: { package: '@vladmandic/face-api', files: ['model/face_landmark_68_model-weights_manifest.json', 'model/face_landmark_68_model.bin'], licence: 'MIT (@vladmandic/face-api, after justadudewhohacks/face-api.js)' },
  recognition: { package: '@vladmandic/face-api', files: ['model/face_recognition_model-weights_manifest.json', 'model/face_recognition_model.bin'], licence: 'MIT (@vladmandic/face-api, after justadudewhohacks/face-api.js; the network is dlib\'s ResNet face descriptor, Boost licence)' },
} as const;

export type FaceNet = keyof typeof FACE_NETS;

/**
 * `facestream export onnx-faces [--out models/faces]`: BlazeFace and the 68-point landmark
 * net as ONNX, with a manifest naming each source package, its version, the sha256 of the
 * files converted, the licence, each graph's sha256 and its largest difference from the
 * tfjs original (on fixed inputs). The product uses a graph only while the installed
 * package's files still have those hashes (src/models/faces/onnx.ts).
 */
export async function exportFaceNets(out: string): Promise<Record<string, unknown>> {
  const crypto = await import('node:crypto');
  const { encodeModel } = await import('./proto.ts');
  const { humanModelDir } = await import('../../src/models/faces/blazeface.ts');
  const { faceApiModelDir, loadFaceApiNet } = await import('../../src/models/faces/detector.ts');
  const sha = (b: Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');
  const pkgDir = (name: string) => name === '@vladmandic/human' ? path.join(humanModelDir(), '..') : path.join(faceApiModelDir(), '..');
  fs.mkdirSync(out, { recursive: true });
  const { ort } = (await import('../../src/runtime/onnx.ts')).requireOnnxRuntime();
  const compare = async (file: string, feeds: Record<string, tf.Tensor>, reference: Record<string, Float32Array>) => {
    if (!ort) return undefined;
    const s = await ort.InferenceSession.create(file);
    const got = await s.run(Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ort.Tensor('float32', t.dataSync() as Float32Array, t.shape)])));
    let max = 0;
    for (const [k, ref] of Object.entries(reference)) { const g = got[k]!.data as Float32Array; for (let i = 0; i < ref.length; i++) max = Math.max(max, Math.abs(ref[i]! - g[i]!)); }
    await s.release();
    return max;
  };
  const entries: Record<string, unknown> = {};
  const source = (net: FaceNet) => {
    const src = FACE_NETS[net];
    const dir = pkgDir(src.package);
    const version = (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
    return { package: src.package, version, licence: src.licence, files: Object.fromEntries(src.files.map((f) => [f, sha(fs.readFileSync(path.join(dir, f)))])) };
  };
  // BlazeFace
  {
    const json = path.join(humanModelDir(), 'blazeface.json');
    const bytes = encodeModel(graphToOnnx(json, 'blazeface'), { producer: 'facestream lab/onnx/graph.ts' });
    const file = path.join(out, 'blazeface.onnx');
    fs.writeFileSync(file, bytes);
    const spec = JSON.parse(fs.readFileSync(json, 'utf8')) as { modelTopology: object; weightsManifest: Array<{ weights: tf.io.WeightsManifestEntry[] }> };
    const bin = fs.readFileSync(path.join(humanModelDir(), 'blazeface.bin'));
    const gm = await tf.loadGraphModel(tf.io.fromMemory({ modelTopology: spec.modelTopology, weightSpecs: spec.weightsManifest[0]!.weights, weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) }));
    const x = tf.tidy(() => tf.sin(tf.mul(tf.range(0, 256 * 256 * 3), 0.37)).reshape([1, 256, 256, 3]));
    const ref = gm.execute(x) as tf.Tensor[];
    const reference = Object.fromEntries(gm.outputNodes.map((n, i) => [n.replace(/:0$/, ''), ref[i]!.dataSync() as Float32Array]));
    entries.blazeface = { file: 'blazeface.onnx', bytes: bytes.length, sha256: sha(bytes), source: source('blazeface'), maxAbsDiffVsTfjs: await compare(file, { input: x }, reference) };
    tf.dispose([x, ...ref]);
    gm.dispose();
  }
  // the 68-point landmark net
  {
    const loaded = await loadFaceApiNet('landmarks68', faceApiModelDir());
    const net = loaded as unknown as { faceFeatureExtractor: { params: Omit<LandmarkParams, 'fc'> }; params: { fc: LandmarkParams['fc'] }; forward(x: tf.Tensor): Promise<tf.Tensor> };
    const bytes = encodeModel(landmarkNetToOnnx({ ...net.faceFeatureExtractor.params, fc: net.params.fc }), { producer: 'facestream lab/onnx/graph.ts' });
    const file = path.join(out, 'face_landmark_68.onnx');
    fs.writeFileSync(file, bytes);
    const x = tf.tidy(() => tf.add(tf.mul(tf.sin(tf.mul(tf.range(0, 112 * 112 * 3), 0.11)), 127), 128).reshape([1, 112, 112, 3]));
    const ref = await net.forward(x); // a square 112-px input: the net's own 0-1 coordinates
    entries.landmarks68 = { file: 'face_landmark_68.onnx', bytes: bytes.length, sha256: sha(bytes), source: source('landmarks68'), maxAbsDiffVsTfjs: await compare(file, { face: x }, { landmarks: ref.dataSync() as Float32Array }) };
    tf.dispose([x, ref]);
    loaded.dispose(false);
  }
  // the recognition net (unique visitors)
  {
    const loaded = await loadFaceApiNet('recognition', faceApiModelDir());
    const net = loaded as unknown as { params: RecognitionParams; computeFaceDescriptor(x: tf.Tensor): Promise<Float32Array> };
    const spec = JSON.parse(fs.readFileSync(path.join(faceApiModelDir(), 'face_recognition_model-weights_manifest.json'), 'utf8')) as Array<{ weights: Array<{ name: string; quantization?: { scale: number; min: number } }> }>;
    const quant = new Map(spec.flatMap((g) => g.weights).filter((w) => w.quantization).map((w) => [w.name, w.quantization!] as const));
    const bytes = encodeModel(recognitionNetToOnnx(net.params, quant), { producer: 'facestream lab/onnx/graph.ts' });
    const file = path.join(out, 'face_recognition.onnx');
    fs.writeFileSync(file, bytes);
    const x = tf.tidy(() => tf.add(tf.mul(tf.sin(tf.mul(tf.range(0, 150 * 150 * 3), 0.07)), 127), 128).reshape([150, 150, 3]));
    const ref = await net.computeFaceDescriptor(x);
    const x4 = tf.tidy(() => tf.expandDims(x, 0));
    entries.recognition = { file: 'face_recognition.onnx', bytes: bytes.length, sha256: sha(bytes), source: source('recognition'), maxAbsDiffVsTfjs: await compare(file, { face: x4 }, { descriptor: ref }) };
    tf.dispose([x, x4]);
    loaded.dispose(false);
  }
  const manifest = { name: 'facestream-face-nets', created: new Date().toISOString(), command: 'facestream export onnx-faces', exporter: 'lab/onnx/graph.ts', opset: 13, nets: entries };
  fs.writeFileSync(path.join(out, 'manifest.json'), JSON.stringify(manifest, null, 1));
  return manifest;
}
