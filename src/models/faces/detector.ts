/**
 * Face detector: boxes, scores and 5 landmarks (eye centres, nose tip, mouth corners)
 * from the nets that ship inside `@vladmandic/face-api` (tiny YOLO or SSD MobileNet for
 * boxes, the 68-point landmark net for points), loaded from disk, never from the network.
 * Each detector owns the nets it loads (an app shares one detector per setting among its
 * streams) and frees them on dispose.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { FacestreamError } from '../../errors.ts';
import { initRuntime, tf } from '../../runtime/index.ts';
import { clipToImage, type Box } from '../../calculators/geometry.ts';
import { cropRgb } from '../../calculators/picture.ts';
import type { Point } from '../../calculators/similarity.ts';
import type { RgbImage } from '../../calculators/warp.ts';
import { blazeFaceOnnx, loadBlazeFace, type BlazeBox } from './blazeface.ts';
import { landmarksOnnx, loadFaceNetsOnnx } from './onnx.ts';

const require = createRequire(import.meta.url);

export type DetectorKind = 'tiny' | 'ssd' | 'blazeface';

export interface DetectorOptions {
  kind: DetectorKind;
  /** tiny: network input size (multiple of 32: 160..608). */
  inputSize?: number;
  minScore?: number;
  /** blazeface: also run it on overlapping square tiles of a wide frame (finds smaller faces; 2 passes on 16:9). */
  tiles?: boolean;
  /** '68' (the full landmark net) or '68tiny'. */
  landmarks?: '68' | '68tiny';
  /** Folder with face-api's weights; defaults to the package's model/ folder. */
  modelDir?: string;
}

export interface DetectedFace {
  score: number;
  box: Box;
  /** left eye, right eye, nose tip, left mouth corner, right mouth corner (image left first). */
  landmarks5: Point[];
}

export interface Detector {
  readonly options: Required<Omit<DetectorOptions, 'modelDir'>> & { modelDir: string };
  detect(image: { width: number; height: number; data: Uint8Array }): Promise<DetectedFace[]>;
  /**
   * Follows faces found on an earlier frame without the detector: the 68-point net on each
   * previous box, which then moves with the points. A face whose points no longer look like
   * a face in that box (eyes too close, points outside it) is dropped.
   */
  refine(image: { width: number; height: number; data: Uint8Array }, faces: DetectedFace[]): Promise<DetectedFace[]>;
  /** Frees what this detector loaded: BlazeFace's graph, the native engine's sessions, its face-api nets. */
  dispose?(): void;
  /** Which engine runs its networks: 'onnxruntime' (BlazeFace and the landmark net natively) or 'tfjs'. */
  readonly engine?: 'onnxruntime' | 'tfjs';
  /** The landmark net on the whole image, taken as the face box (for face crops the detector missed). */
  landmarksOnly(image: { width: number; height: number; data: Uint8Array }): Promise<DetectedFace['landmarks5']>;
}

/** A face-api net's landmarks: positions in the input's pixels, and shifted to where the input was cut from. */
interface FaceApiLandmarks {
  positions: Array<{ x: number; y: number }>;
  shiftBy(x: number, y: number): FaceApiLandmarks;
}

interface FaceApiDetection {
  score: number;
  box: { x: number; y: number; width: number; height: number };
}

/** One of face-api's nets, as an instance that owns its weights. */
export interface FaceApiNet {
  loadFromDisk(dir: string): Promise<void>;
  /** Frees the weights (tfjs tensors). */
  dispose(throwOnRedispose?: boolean): void;
  locateFaces(input: unknown, options: unknown): Promise<FaceApiDetection[]>;
  detectLandmarks(input: unknown): Promise<FaceApiLandmarks>;
  computeFaceDescriptor(input: unknown): Promise<Float32Array | Float32Array[]>;
  predictAgeAndGender(input: unknown): Promise<FaceApiAgeGender | FaceApiAgeGender[]>;
}

/** face-api's age/gender answer: `genderProbability` is that of `gender`. */
export interface FaceApiAgeGender { age: number; gender: 'male' | 'female'; genderProbability: number }

/** What this project uses of face-api's module (its wasm build). */
export interface FaceApi {
  SsdMobilenetv1: new () => FaceApiNet;
  TinyFaceDetector: new () => FaceApiNet;
  FaceLandmark68Net: new () => FaceApiNet;
  FaceLandmark68TinyNet: new () => FaceApiNet;
  FaceRecognitionNet: new () => FaceApiNet;
  AgeGenderNet: new () => FaceApiNet;
  TinyFaceDetectorOptions: new (o: { inputSize: number; scoreThreshold: number }) => unknown;
  SsdMobilenetv1Options: new (o: { minConfidence: number; maxResults?: number }) => unknown;
  /** The faces cut from an image tensor as the library cuts them (boxes clipped to the image and floored). */
  extractFaceTensors(input: unknown, detections: FaceApiDetection[]): Promise<Array<{ dispose(): void }>>;
}

export function faceApiModelDir(): string {
  return path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
}

/** face-api's module (its wasm build; Node's module cache holds it). */
export function faceApi(): FaceApi {
  return require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApi;
}

/** Each net of face-api this project loads: its class and its weights manifest in the model folder. */
const FACE_API_NETS = {
  ssd: ['SsdMobilenetv1', 'ssd_mobilenetv1_model-weights_manifest.json'],
  tiny: ['TinyFaceDetector', 'tiny_face_detector_model-weights_manifest.json'],
  landmarks68: ['FaceLandmark68Net', 'face_landmark_68_model-weights_manifest.json'],
  landmarks68tiny: ['FaceLandmark68TinyNet', 'face_landmark_68_tiny_model-weights_manifest.json'],
  recognition: ['FaceRecognitionNet', 'face_recognition_model-weights_manifest.json'],
  ageGender: ['AgeGenderNet', 'age_gender_model-weights_manifest.json'],
} as const;

/**
 * A face-api net of its own with the weights from `dir`: an instance of the library's class,
 * not the library's process-wide `nets`, so that two detectors with other weights folders do
 * not overwrite each other; the caller disposes it.
 */
export async function loadFaceApiNet(net: keyof typeof FACE_API_NETS, dir: string): Promise<FaceApiNet> {
  const [cls, manifest] = FACE_API_NETS[net];
  const file = path.join(dir, manifest);
  if (!fs.existsSync(file)) throw new FacestreamError('FS_ERR_MODEL', `face model ${file} is missing; reinstall @vladmandic/face-api or fix modelDir`);
  await initRuntime();
  const instance = new (faceApi()[cls])();
  try {
    await instance.loadFromDisk(dir);
  } catch (err) {
    instance.dispose(false);
    throw new FacestreamError('FS_ERR_MODEL', `face model ${file} does not load (${(err as Error).message}); the weights do not match the ${cls} network`);
  }
  return instance;
}

function checkImage(image: { width: number; height: number; data: Uint8Array }): void {
  if (!(image.width > 0 && image.height > 0) || image.data.length !== image.width * image.height * 3) {
    throw new FacestreamError('FS_ERR_SOURCE_FAILED', `a ${image.width}x${image.height} RGB image needs ${image.width * image.height * 3} bytes, got ${image.data.length}`);
  }
}

/** 68-point scheme -> the 5 alignment points. */
export function fivePoints(p: Array<{ x: number; y: number }>): Point[] {
  const mean = (from: number, to: number): Point => {
    let x = 0, y = 0;
    for (let i = from; i <= to; i++) { x += p[i]!.x; y += p[i]!.y; }
    const n = to - from + 1;
    return [x / n, y / n];
  };
  return [mean(36, 41), mean(42, 47), [p[30]!.x, p[30]!.y], [p[48]!.x, p[48]!.y], [p[54]!.x, p[54]!.y]];
}

export async function loadDetector(options: DetectorOptions): Promise<Detector> {
  await initRuntime();
  const api = faceApi();
  const o = {
    kind: options.kind,
    inputSize: options.inputSize ?? 416,
    minScore: options.minScore ?? (options.kind === 'ssd' ? 0.5 : options.kind === 'tiny' ? 0.4 : 0.6),
    landmarks: options.landmarks ?? '68',
    tiles: options.tiles ?? false,
    modelDir: options.modelDir ?? faceApiModelDir(),
  };
  if (o.kind === 'tiny' && (o.inputSize % 32 !== 0 || o.inputSize < 128 || o.inputSize > 1024)) {
    throw new FacestreamError('FS_ERR_CONFIG', `detect.inputSize must be a multiple of 32 within 128..1024, got ${o.inputSize}`);
  }
  // the native engine's graphs where the process runs onnxruntime (BlazeFace, and the landmark net on its boxes)
  const native = await loadFaceNetsOnnx({ blazeface: o.kind === 'blazeface', landmarks68: o.landmarks === '68' && o.kind === 'blazeface', faceApiModelDir: o.modelDir });
  const blaze = o.kind === 'blazeface' ? (native.blazeface ? blazeFaceOnnx(native.blazeface) : await loadBlazeFace()) : undefined;
  // face-api's nets of this detector (none for what runs natively), freed with it
  const nets: FaceApiNet[] = [];
  const own = async (net: keyof typeof FACE_API_NETS) => { const n = await loadFaceApiNet(net, o.modelDir); nets.push(n); return n; };
  let boxNet: FaceApiNet | undefined, landmarkNet: FaceApiNet | undefined;
  try {
    if (o.kind !== 'blazeface') boxNet = await own(o.kind);
    if (!native.landmarks68) landmarkNet = await own(o.landmarks === '68tiny' ? 'landmarks68tiny' : 'landmarks68');
  } catch (err) {
    for (const n of nets) n.dispose(false);
    blaze?.dispose();
    void native.landmarks68?.dispose();
    throw err;
  }
  const detOptions = o.kind === 'tiny'
    ? new api.TinyFaceDetectorOptions({ inputSize: o.inputSize, scoreThreshold: o.minScore })
    : o.kind === 'blazeface' ? undefined : new api.SsdMobilenetv1Options({ minConfidence: o.minScore, maxResults: 100 });

  /** The 68-point net on each box (cut from the frame, clipped to it), points back in frame coordinates. */
  const landmarksOnBoxes = async (found: Array<Pick<BlazeBox, 'box' | 'score'>>, image: RgbImage): Promise<DetectedFace[]> => {
    const out: DetectedFace[] = [];
    const clipped = found.flatMap((f) => {
      const box = clipToImage(f.box, image.width, image.height);
      return box ? [{ score: f.score, box }] : [];
    });
    if (native.landmarks68) {
      const points = await landmarksOnnx(native.landmarks68, image, clipped.map((f) => f.box));
      return clipped.map((f, i) => ({ score: f.score, box: f.box, landmarks5: fivePoints(points[i]!) }));
    }
    for (const f of clipped) {
      const { x: x0, y: y0, width: cw, height: ch } = f.box;
      const face = tf.tensor3d(cropRgb(image, f.box).data, [ch, cw, 3], 'int32');
      try {
        const lm = await landmarkNet!.detectLandmarks(face);
        out.push({
          score: f.score,
          box: f.box,
          landmarks5: fivePoints(lm.positions.map((p) => ({ x: p.x + x0, y: p.y + y0 }))),
        });
      } finally {
        face.dispose();
      }
    }
    return out;
  };

  return {
    engine: native.blazeface ? 'onnxruntime' : 'tfjs',
    dispose: () => { blaze?.dispose(); void native.landmarks68?.dispose(); for (const n of nets.splice(0)) n.dispose(false); },
    options: o,
    async detect(image) {
      checkImage(image);
      if (blaze) return landmarksOnBoxes(await blaze.detect(image, o.minScore, { tiles: o.tiles }), image);
      const input = tf.tensor3d(image.data, [image.height, image.width, 3], 'int32');
      try {
        // as face-api's detectAllFaces(...).withFaceLandmarks() does it, on this detector's own nets:
        // the faces cut as the library cuts them, their points shifted by the box found
        const found = await boxNet!.locateFaces(input, detOptions);
        const faces = await api.extractFaceTensors(input, found);
        try {
          const points = await Promise.all(faces.map((face) => landmarkNet!.detectLandmarks(face)));
          return found.flatMap((f, i) => points[i] ? [{
            score: f.score,
            box: { x: f.box.x, y: f.box.y, width: f.box.width, height: f.box.height },
            landmarks5: fivePoints(points[i].shiftBy(f.box.x, f.box.y).positions),
          }] : []);
        } finally {
          for (const face of faces) face.dispose();
        }
      } finally {
        input.dispose();
      }
    },
    async refine(image, faces) {
      checkImage(image);
      const out: DetectedFace[] = [];
      const mean = (q: Point[]) => q.reduce((a, [x, y]) => [a[0] + x / q.length, a[1] + y / q.length], [0, 0]);
      for (const prev of faces) {
        // the net on the last box; when the face moved by more than a tenth of the box, once
        // more on the box moved with it (points from an off-centre crop are less exact)
        let box = prev.box, anchor = mean(prev.landmarks5), found: DetectedFace | undefined;
        for (let pass = 0; pass < 2; pass++) {
          const [face] = await landmarksOnBoxes([{ box, score: prev.score }], image);
          if (!face) { found = undefined; break; }
          const p = face.landmarks5;
          const eyes = Math.hypot(p[1]![0] - p[0]![0], p[1]![1] - p[0]![1]);
          const inside = p.every(([x, y]) => x >= box.x && x <= box.x + box.width && y >= box.y && y <= box.y + box.height);
          if (!inside || eyes < 0.15 * box.width) { found = undefined; break; }
          const [nx, ny] = mean(p);
          const moved = Math.hypot(nx - anchor[0], ny - anchor[1]);
          box = { ...box, x: box.x + nx - anchor[0], y: box.y + ny - anchor[1] };
          anchor = [nx, ny];
          found = { score: prev.score, box, landmarks5: p };
          if (moved < 0.1 * box.width) break;
        }
        if (found) out.push(found);
      }
      return out;
    },
    async landmarksOnly(image) {
      checkImage(image);
      if (native.landmarks68) return fivePoints((await landmarksOnnx(native.landmarks68, image, [{ x: 0, y: 0, width: image.width, height: image.height }]))[0]!);
      const input = tf.tensor3d(image.data, [image.height, image.width, 3], 'int32');
      try {
        const lm = await landmarkNet!.detectLandmarks(input);
        return fivePoints(lm.positions);
      } finally {
        input.dispose();
      }
    },
  };
}
