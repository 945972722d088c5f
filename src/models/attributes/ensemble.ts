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
 */
import { FacestreamError } from '../../errors.ts';
import { tf } from '../../runtime/index.ts';
import { HEADS, type Head } from './network.ts';

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

export async function mergeMembers(members: tf.LayersModel[], combine: Combination = {}): Promise<tf.LayersModel> {
  if (members.length < 2) throw new FacestreamError('FS_ERR_USAGE', `an ensemble needs 2 or more members, got ${members.length}`);
  const inputName = 'face';
  const layers: LayerJson[] = [];
  const origin = new Map<string, { member: number; name: string }>();
  members.forEach((model, i) => {
    const missing = HEADS.filter((h) => !model.outputNames.includes(h));
    if (missing.length) throw new FacestreamError('FS_ERR_MODEL', `ensemble member ${i}: not an attribute model (outputs ${missing.join(', ')} missing)`);
    if (model.inputs.length !== 1) throw new FacestreamError('FS_ERR_MODEL', `ensemble member ${i}: ${model.inputs.length} inputs, expected 1`);
    const json = model.toJSON(null, false) as unknown as ModelJson;
    const input = json.config.input_layers[0]![0] as string;
    const rename = (n: string) => (n === input ? inputName : `m${i}_${n}`);
    for (const l of json.config.layers) {
      if (l.name === input) {
        if (i === 0) layers.push({ ...l, name: inputName, config: { ...l.config, name: inputName } });
        else if (JSON.stringify(l.config.batch_input_shape) !== JSON.stringify(layers[0]!.config.batch_input_shape)) {
          throw new FacestreamError('FS_ERR_MODEL', `ensemble member ${i}: input ${JSON.stringify(l.config.batch_input_shape)}, member 0 has ${JSON.stringify(layers[0]!.config.batch_input_shape)}`);
        }
        continue;
      }
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
    const from = origin.get(layer.name);
    if (!from || !layer.weights.length) continue;
    layer.setWeights(members[from.member]!.getLayer(from.name).getWeights());
  }
  return merged;
}
