/**
 * Two (or more) trained attribute networks shipped as one: a single flat tfjs model whose
 * members share the input face and whose heads average the members' logits, head by head
 * (the same averaging the mirror-image pass does). A head may take fewer members, e.g.
 * gender from the member that measured best on it alone; a member's layers that no
 * chosen head needs are left out, so they cost nothing at run time.
 *
 * The members are finished models (SA heads fitted, BatchNorm folded): their SA logits
 * are averaged like the plain ones, so 1 - p(unrecognizable) stays a probability of the
 * averaged softmax. Built from the members' JSON configs (layers renamed m0_, m1_, ...),
 * so the result saves, loads and folds like any other attribute model.
 *
 * Members may take crops of different sizes: the merged model takes the largest, and a
 * smaller member sees it resized in the graph (`resizeMatrix`: bilinear, the crops' own
 * pixel grid, as two fixed matrix products per image, Permute and Dense layers only).
 */
import { FacestreamError } from '../../errors.ts';
import { tf } from '../../runtime/index.ts';
import { HEADS, inputSide, type Head } from './network.ts';

/** Which members (indices) each head averages; a head not named averages all of them. */
export type Combination = Partial<Record<Head, number[]>>;

interface LayerJson { name: string; class_name: string; config: Record<string, unknown>; inbound_nodes: unknown[][][] }
interface ModelJson { class_name: string; config: { name: string; layers: LayerJson[]; input_layers: unknown[][]; output_layers: unknown[][] } }

/** Parses `gender=1,gender_sa=1,age=0+1` into a Combination (indices into the member list). */
export function parseCombination(spec: string | undefined, members: number): Combination {
  const out: Combination = {};
  if (!spec) return out;
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([a-z0-9_]+)=([0-9+]+)$/.exec(part);
    if (!m || !(HEADS as readonly string[]).includes(m[1]!)) {
      throw new FacestreamError('FS_ERR_USAGE', `ensemble heads: "${part}" is not HEAD=I[+J] with HEAD one of ${HEADS.join(', ')}`);
    }
    const idx = m[2]!.split('+').map(Number);
    if (idx.some((i) => !Number.isInteger(i) || i < 0 || i >= members)) {
      throw new FacestreamError('FS_ERR_USAGE', `ensemble heads: "${part}" names a member outside 0-${members - 1}`);
    }
    out[m[1] as Head] = [...new Set(idx)];
  }
  return out;
}

/**
 * The bilinear resampling of `from` samples onto `to`, as a [from, to] kernel: output
 * pixel i reads the input at i * from / to, the convention of the aligned crops (an
 * alignment to size s is the template scaled by s, src/calculators/similarity.ts), so a
 * crop aligned at 80 px resized to 64 samples the face where a 64-px alignment would.
 */
export function resizeMatrix(from: number, to: number): Float32Array {
  const k = new Float32Array(from * to);
  for (let i = 0; i < to; i++) {
    const x = Math.min((i * from) / to, from - 1);
    const x0 = Math.floor(x), x1 = Math.min(x0 + 1, from - 1), f = x - x0;
    k[x0 * to + i] += 1 - f;
    k[x1 * to + i] += f;
  }
  return k;
}

/** Layers that resize the shared input (side `from`) to `to` for member `i`; returns the last one's name. */
function resizeLayers(i: number, input: string, from: number, to: number, layers: LayerJson[], fixed: Map<string, Float32Array>): string {
  const permute = (name: string, dims: number[], inbound: string): LayerJson => ({ name, class_name: 'Permute', config: { name, dims, trainable: false, dtype: 'float32' }, inbound_nodes: [[[inbound, 0, 0, {}]]] });
  const dense = (name: string, inbound: string): LayerJson => {
    fixed.set(name, resizeMatrix(from, to));
    return { name, class_name: 'Dense', config: { name, units: to, activation: 'linear', use_bias: false, kernel_initializer: { class_name: 'Zeros', config: {} }, trainable: false, dtype: 'float32' }, inbound_nodes: [[[inbound, 0, 0, {}]]] };
  };
  const p = `m${i}_resize`;
  layers.push(
    permute(`${p}_hcw`, [1, 3, 2], input), dense(`${p}_w`, `${p}_hcw`), // [H, 3, w]
    permute(`${p}_wch`, [3, 2, 1], `${p}_w`), dense(`${p}_h`, `${p}_wch`), // [w, 3, h]
    permute(p, [3, 1, 2], `${p}_h`), // [h, w, 3]
  );
  return p;
}

export async function mergeMembers(members: tf.LayersModel[], combine: Combination = {}): Promise<tf.LayersModel> {
  if (members.length < 2) throw new FacestreamError('FS_ERR_USAGE', `an ensemble needs 2 or more members, got ${members.length}`);
  const inputName = 'face';
  const layers: LayerJson[] = [];
  const origin = new Map<string, { member: number; name: string }>();
  const fixed = new Map<string, Float32Array>();
  const sides = members.map((m, i) => inputSide(m, `ensemble member ${i}`));
  const big = Math.max(...sides);
  layers.push({ name: inputName, class_name: 'InputLayer', config: { batch_input_shape: [null, big, big, 3], dtype: 'float32', sparse: false, name: inputName }, inbound_nodes: [] });
  members.forEach((model, i) => {
    const missing = HEADS.filter((h) => !model.outputNames.includes(h));
    if (missing.length) throw new FacestreamError('FS_ERR_MODEL', `ensemble member ${i}: not an attribute model (outputs ${missing.join(', ')} missing)`);
    const json = model.toJSON(null, false) as unknown as ModelJson;
    const input = json.config.input_layers[0]![0] as string;
    const feed = sides[i] === big ? inputName : resizeLayers(i, inputName, big, sides[i]!, layers, fixed);
    const rename = (n: string) => (n === input ? feed : `m${i}_${n}`);
    for (const l of json.config.layers) {
      if (l.name === input) continue;
      const name = rename(l.name);
      origin.set(name, { member: i, name: l.name });
      layers.push({
        ...l, name, config: { ...l.config, name },
        inbound_nodes: l.inbound_nodes.map((node) => node.map((edge) => [rename(edge[0] as string), ...edge.slice(1)])),
      });
    }
  });
  // One output per head: a member's own layer when one member answers it, else an Average.
  const outputs: string[] = [];
  for (const head of HEADS) {
    const which = combine[head] ?? members.map((_, i) => i);
    if (which.length === 1) {
      const l = layers.find((x) => x.name === `m${which[0]}_${head}`)!;
      const old = l.name;
      l.name = head; l.config = { ...l.config, name: head };
      origin.set(head, origin.get(old)!);
      origin.delete(old);
    } else {
      layers.push({ name: head, class_name: 'Average', config: { name: head, trainable: false, dtype: 'float32' }, inbound_nodes: [which.map((i) => [`m${i}_${head}`, 0, 0, {}])] });
    }
    outputs.push(head);
  }
  // Keep only the layers some output depends on.
  const byName = new Map(layers.map((l) => [l.name, l]));
  const needed = new Set<string>();
  const stack = [...outputs];
  while (stack.length) {
    const n = stack.pop()!;
    if (needed.has(n)) continue;
    needed.add(n);
    for (const node of byName.get(n)!.inbound_nodes) for (const edge of node) stack.push(edge[0] as string);
  }
  const topology = {
    class_name: 'Model', keras_version: 'tfjs-layers', backend: 'tensor_flow.js',
    config: { name: 'facestream_attributes_ensemble', layers: layers.filter((l) => needed.has(l.name)), input_layers: [[inputName, 0, 0]], output_layers: outputs.map((o) => [o, 0, 0]) },
  };
  const merged = await tf.models.modelFromJSON({ modelTopology: topology } as unknown as tf.io.ModelJSON);
  for (const layer of merged.layers) {
    const k = fixed.get(layer.name);
    if (k) {
      const units = layer.getConfig().units as number;
      const t = tf.tensor2d(k, [k.length / units, units]);
      layer.setWeights([t]);
      t.dispose();
    }
    const from = origin.get(layer.name);
    if (!from || !layer.weights.length) continue;
    layer.setWeights(members[from.member]!.getLayer(from.name).getWeights());
  }
  return merged;
}
