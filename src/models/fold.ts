/**
 * Layer merging (docs/method.md §3): BatchNormalization folded into the conv or dense layer
 * in front of it, and a following ReLU fused into the same op.
 *
 *   w' = w * gamma / sqrt(var + eps)        b' = (b - mean) * gamma / sqrt(var + eps) + beta
 *
 * The result is an ordinary tfjs LayersModel whose Conv2D/Dense layers carry a bias and a
 * 'relu' activation; tfjs-layers runs such layers as one `tf.fused.conv2d` /
 * `tf.fused.matMul` call, so inference is one op per ConvUnit. It saves and loads like
 * any layers model. Branches and merges (multi-head trunks, residual adds) keep their
 * structure: only conv/dense -> BN [-> ReLU] chains whose intermediate outputs have no
 * other consumer are merged. A BN that precedes its conv (pre-activation blocks) is left
 * alone: with zero padding it cannot be folded exactly.
 */
import { tf } from '../runtime/index.ts';

type NodeRef = [string, number, number, Record<string, unknown>?];
interface LayerJson {
  class_name: string;
  name?: string;
  config: Record<string, unknown> & { name: string };
  inbound_nodes: NodeRef[][];
}
interface ModelTopology {
  class_name: string;
  config: { name: string; layers: LayerJson[]; input_layers: NodeRef[]; output_layers: NodeRef[] };
  [k: string]: unknown;
}

export interface FoldReport {
  /** conv/dense layer name -> the layers merged into it. */
  merged: Record<string, string[]>;
  /** BN layers that could not be folded, with the reason. */
  kept: Record<string, string>;
}

const FOLDABLE = new Set(['Conv2D', 'Dense']);

function isRelu(l: LayerJson): boolean {
  if (l.class_name === 'Activation') return l.config.activation === 'relu';
  if (l.class_name === 'ReLU') return l.config.maxValue == null && l.config.max_value == null;
  return false;
}

/** A Sequential model is rewired as a functional one that shares its layers. */
function asFunctional(model: tf.LayersModel): tf.LayersModel {
  if (!(model instanceof tf.Sequential)) return model;
  const input = tf.input({ shape: model.inputs[0]!.shape.slice(1) as number[] });
  let y: tf.SymbolicTensor = input;
  for (const layer of model.layers) y = layer.apply(y) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: y, name: `${model.name}_functional` });
}

function bnFactors(bn: tf.layers.Layer, channels: number): { k: Float32Array; shift: Float32Array; mean: Float32Array } {
  const cfg = bn.getConfig() as { scale?: boolean; center?: boolean; epsilon?: number; axis?: number | number[] };
  const w = bn.getWeights().map((t) => t.dataSync() as Float32Array);
  let i = 0;
  const gamma = cfg.scale !== false ? w[i++]! : new Float32Array(channels).fill(1);
  const beta = cfg.center !== false ? w[i++]! : new Float32Array(channels);
  const mean = w[i++]!;
  const variance = w[i++]!;
  const eps = cfg.epsilon ?? 1e-3;
  const k = new Float32Array(channels);
  for (let c = 0; c < channels; c++) k[c] = gamma[c]! / Math.sqrt(variance[c]! + eps);
  return { k, shift: beta, mean };
}

/**
 * Returns a new model with every foldable conv/dense -> BN [-> ReLU] unit merged, and a
 * report of what was merged. The input model is not changed.
 */
export async function foldBatchNorm(input: tf.LayersModel): Promise<{ model: tf.LayersModel; report: FoldReport }> {
  const model = asFunctional(input);
  const topology = JSON.parse(JSON.stringify(model.toJSON(undefined, false))) as ModelTopology;
  const layers = topology.config.layers;
  const byName = new Map(layers.map((l) => [l.config.name, l]));
  const consumers = new Map<string, string[]>();
  for (const l of layers) {
    for (const node of l.inbound_nodes) for (const ref of node) {
      consumers.set(ref[0], [...(consumers.get(ref[0]) ?? []), l.config.name]);
    }
  }
  const outputs = new Set(topology.config.output_layers.map((r) => r[0]));
  const single = (name: string) => !outputs.has(name) && (consumers.get(name) ?? []).length === 1;

  const report: FoldReport = { merged: {}, kept: {} };
  const replaced = new Map<string, string>();
  const removed = new Set<string>();
  const foldedInto = new Map<string, string>(); // bn -> conv

  for (const bn of layers.filter((l) => l.class_name === 'BatchNormalization')) {
    const name = bn.config.name;
    const refs = bn.inbound_nodes.flat();
    const axis = bn.config.axis as number | number[];
    const prev = refs.length === 1 ? byName.get(refs[0]![0]) : undefined;
    const why =
      bn.inbound_nodes.length !== 1 ? 'layer is used more than once'
      : !prev || !FOLDABLE.has(prev.class_name) ? 'not preceded by Conv2D or Dense'
      : prev.config.activation !== 'linear' ? `${prev.config.name} has an activation before the BN`
      : prev.inbound_nodes.length !== 1 ? `${prev.config.name} is shared`
      : !single(prev.config.name) ? `${prev.config.name} has other consumers`
      : !(axis === -1 || (Array.isArray(axis) && axis.length === 1 && axis[0] === -1) || axis === 3 || axis === 1)
        ? `axis ${JSON.stringify(axis)} is not the channel axis`
      : undefined;
    if (why) { report.kept[name] = why; continue; }
    const conv = prev!;
    const mergedNames = [name];
    conv.config.use_bias = true;
    replaced.set(name, conv.config.name);
    removed.add(name);
    foldedInto.set(name, conv.config.name);
    const next = (consumers.get(name) ?? []).map((n) => byName.get(n)!);
    if (single(name) && next.length === 1 && isRelu(next[0]!) && next[0]!.inbound_nodes.length === 1) {
      conv.config.activation = 'relu';
      replaced.set(next[0]!.config.name, conv.config.name);
      removed.add(next[0]!.config.name);
      mergedNames.push(next[0]!.config.name);
    }
    report.merged[conv.config.name] = mergedNames;
  }

  const resolve = (n: string): string => (replaced.has(n) ? resolve(replaced.get(n)!) : n);
  topology.config.layers = layers.filter((l) => !removed.has(l.config.name));
  for (const l of topology.config.layers) {
    for (const node of l.inbound_nodes) for (const ref of node) ref[0] = resolve(ref[0]);
  }
  for (const ref of topology.config.output_layers) ref[0] = resolve(ref[0]);

  const folded = (await tf.models.modelFromJSON(topology as never)) as tf.LayersModel;
  const bnOf = new Map([...foldedInto].map(([bn, conv]) => [conv, bn]));
  for (const layer of folded.layers) {
    const source = model.getLayer(layer.name);
    const bnName = bnOf.get(layer.name);
    if (!bnName) {
      if (source.getWeights().length) layer.setWeights(source.getWeights());
      continue;
    }
    const [kernel, bias] = source.getWeights();
    const channels = kernel!.shape[kernel!.shape.length - 1]!;
    const { k, shift, mean } = bnFactors(model.getLayer(bnName), channels);
    const b = bias ? (bias.dataSync() as Float32Array) : new Float32Array(channels);
    const newBias = new Float32Array(channels);
    for (let c = 0; c < channels; c++) newBias[c] = (b[c]! - mean[c]!) * k[c]! + shift[c]!;
    tf.tidy(() => {
      const w = tf.mul(kernel!, tf.tensor1d(k));
      layer.setWeights([w, tf.tensor1d(newBias)]);
    });
  }
  return { model: folded, report };
}
