/**
 * The part of ONNX's protobuf schema (onnx/onnx.proto, IR version 8) that the exporter
 * writes, encoded by hand: ModelProto, GraphProto, NodeProto, AttributeProto,
 * TensorProto (raw little-endian data), ValueInfoProto with tensor types and shapes.
 * Field numbers are onnx.proto's. Only encoding: the runtime reads the files.
 */

/** Bytes accumulated field by field (protobuf wire format). */
class Writer {
  private parts: Uint8Array[] = [];
  private size = 0;
  private push(b: Uint8Array) { this.parts.push(b); this.size += b.length; }
  varint(v: number | bigint) {
    let x = BigInt.asUintN(64, BigInt(v));
    const out: number[] = [];
    while (x >= 0x80n) { out.push(Number(x & 0x7fn) | 0x80); x >>= 7n; }
    out.push(Number(x));
    this.push(Uint8Array.from(out));
  }
  private tag(field: number, wire: number) { this.varint((field << 3) | wire); }
  int(field: number, v: number | bigint) { this.tag(field, 0); this.varint(v); }
  float(field: number, v: number) { this.tag(field, 5); const b = new Uint8Array(4); new DataView(b.buffer).setFloat32(0, v, true); this.push(b); }
  bytes(field: number, b: Uint8Array) { this.tag(field, 2); this.varint(b.length); this.push(b); }
  string(field: number, s: string) { this.bytes(field, new TextEncoder().encode(s)); }
  message(field: number, w: Writer) { this.bytes(field, w.finish()); }
  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) { out.set(p, at); at += p.length; }
    return out;
  }
}

/** TensorProto.DataType values the exporter uses. */
export const DataType = { FLOAT: 1, UINT8: 2, INT64: 7 } as const;

export type AttributeValue = number | string | number[] | { ints: number[] } | { floats: number[] };

export interface OnnxNode { op: string; inputs: string[]; outputs: string[]; name?: string; attributes?: Record<string, AttributeValue> }
export interface OnnxTensor { name: string; dims: number[]; data: Float32Array | BigInt64Array | Uint8Array }
/** A graph input or output: element type FLOAT, each dim a size or a symbolic name. */
export interface OnnxValue { name: string; dims: Array<number | string> }
export interface OnnxGraph { name: string; nodes: OnnxNode[]; initializers: OnnxTensor[]; inputs: OnnxValue[]; outputs: OnnxValue[] }

// AttributeProto.AttributeType
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

function attribute(name: string, v: AttributeValue): Writer {
  const w = new Writer();
  w.string(1, name);
  if (typeof v === 'string') { w.bytes(4, new TextEncoder().encode(v)); w.int(20, ATTR.STRING); }
  else if (typeof v === 'number') {
    if (Number.isInteger(v)) { w.int(3, v); w.int(20, ATTR.INT); } else { w.float(2, v); w.int(20, ATTR.FLOAT); }
  } else if (Array.isArray(v) || 'ints' in v) {
    for (const x of Array.isArray(v) ? v : v.ints) w.int(8, x);
    w.int(20, ATTR.INTS);
  } else {
    for (const x of v.floats) w.float(7, x);
    w.int(20, ATTR.FLOATS);
  }
  return w;
}

function tensor(t: OnnxTensor): Writer {
  const w = new Writer();
  for (const d of t.dims) w.int(1, d);
  w.int(2, t.data instanceof Float32Array ? DataType.FLOAT : t.data instanceof Uint8Array ? DataType.UINT8 : DataType.INT64);
  w.string(8, t.name);
  // raw_data is little-endian; typed arrays are in the platform's order (little-endian on every platform Node runs on)
  w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return w;
}

function valueInfo(v: OnnxValue): Writer {
  const shape = new Writer();
  for (const d of v.dims) {
    const dim = new Writer();
    if (typeof d === 'number') dim.int(1, d); else dim.string(2, d);
    shape.message(1, dim);
  }
  const tt = new Writer();
  tt.int(1, DataType.FLOAT);
  tt.message(2, shape);
  const type = new Writer();
  type.message(1, tt);
  const w = new Writer();
  w.string(1, v.name);
  w.message(2, type);
  return w;
}

/** The serialized ModelProto (IR 8, default-domain opset `opset`). */
export function encodeModel(g: OnnxGraph, o: { opset?: number; producer?: string; producerVersion?: string; docString?: string } = {}): Uint8Array {
  const graph = new Writer();
  g.nodes.forEach((n, i) => {
    const w = new Writer();
    for (const x of n.inputs) w.string(1, x);
    for (const x of n.outputs) w.string(2, x);
    w.string(3, n.name ?? `${n.op}_${i}`);
    w.string(4, n.op);
    for (const [k, v] of Object.entries(n.attributes ?? {})) w.message(5, attribute(k, v));
    graph.message(1, w);
  });
  graph.string(2, g.name);
  for (const t of g.initializers) graph.message(5, tensor(t));
  for (const v of g.inputs) graph.message(11, valueInfo(v));
  for (const v of g.outputs) graph.message(12, valueInfo(v));
  const opset = new Writer();
  opset.string(1, '');
  opset.int(2, o.opset ?? 13);
  const model = new Writer();
  model.int(1, 8); // ir_version
  model.string(2, o.producer ?? 'facestream');
  if (o.producerVersion) model.string(3, o.producerVersion);
  if (o.docString) model.string(6, o.docString);
  model.message(7, graph);
  model.message(8, opset);
  return model.finish();
}
