/**
 * `facestream eval video`: the pipeline judged on video, as its users see it. Labelled
 * clips are built from labelled faces (UTKFace: age and gender in the file name) pasted on
 * a real, moving background (the pedestrians clip, blurred so that its own faces do not
 * count), several at a time, each moving slowly across the frame for a few seconds, at
 * each face size; the first face of each clip leaves and comes back at the end (a return
 * visit). The real pipelines (default, surveillance) run on each clip as on a camera's
 * file, and each track's final, smoothed answers (its `track.ended`) are scored against
 * the labels of the face it followed: faces found, tracks per face, gender accuracy, age
 * MAE by age band, age-group accuracy, and for each grade S-D its share and accuracy.
 *
 * The clips and their ground truth are cached by their parameters under `workDir`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { concatMap, filter, lastValueFrom } from 'rxjs';
import fs from 'node:fs';
import path from 'node:path';
import { cropRgb, resizeArea } from '../../src/calculators/picture.ts';
import { clipToImage } from '../../src/calculators/geometry.ts';
import { rng } from '../../src/calculators/random.ts';
import type { RgbImage } from '../../src/calculators/warp.ts';
import { GRADES, type Grade } from '../../src/calculators/sa.ts';
import type { FacestreamEvent, TrackEnded } from '../../src/events/types.ts';
import { findFfmpeg } from '../../src/ingest/ffmpeg-path.ts';
import { fromSource } from '../../src/ingest/fromSource.ts';
import { faceApiModelDir, loadFaceApiNet, type FaceApiAgeGender } from '../../src/models/faces/detector.ts';
import { ADULTS, AGE_BINS } from '../../src/models/attributes/labels.ts';
import { loadPipeline, type PipelineConfig } from '../../src/pipeline/schema.ts';
import { startStream } from '../../src/runner/run.ts';
import { SharedResources } from '../../src/pipeline/shared.ts';
import { readUtkface, isValidation, type UtkSample } from '../train/datasets.ts';
import { decodeImage } from '../train/crops.ts';
import { visitorService } from '../../src/models/faces/recognizer.ts';
import { appConfigSchema } from '../../src/config.ts';
import { RAW_GRADING } from '../../src/operators/track.ts';

/** The node's default reid settings. */
const REID = appConfigSchema.parse({}).reid;

export const WIDTH = 1280;
export const HEIGHT = 720;
export const FPS = 10;
/** Seconds a face is in view, and between groups (longer than a track's maxAge). */
const VISIT_S = 3;
const GAP_S = 1.6;
/** Faces in view at once. */
const GROUP = 4;
/** UTKFace's crops: the face spans about this share of the crop's width. */
const FACE_SHARE = 0.6;

export const AGE_BANDS = [
  { name: '0-12', from: 0, to: 12 }, { name: '13-19', from: 13, to: 19 }, { name: '20-39', from: 20, to: 39 },
  { name: '40-59', from: 40, to: 59 }, { name: '60+', from: 60, to: 200 },
] as const;

export interface TruthFace { id: number; file: string; gender: 'male' | 'female'; age: number; ageGroup: string }
/** Where a face is pasted on one frame: its whole crop (x, y, side). */
export interface Placement { id: number; x: number; y: number; side: number }
/** One appearance of a face: from its first to its last frame in view (ms). */
export interface Visit { id: number; fromMs: number; toMs: number }
export interface ClipTruth { size: number; frames: number; fps: number; faces: TruthFace[]; placements: Placement[][]; visits: Visit[] }

export interface VideoEvalOptions {
  utkface: string;
  sizes: number[];
  pipelines: string[];
  split: 'validation' | 'all';
  /** Faces per size (default 16; a multiple of 4 reads best). */
  faces?: number;
  seed?: number;
  background: string;
  workDir: string;
  onProgress?: (line: string) => void;
  /** The unique-visitor settings (default: the node's). */
  reid?: { windowMinutes: number; maxDistance: number };
  /** Also face-api's age and gender on the same tracks (faceApiOnTracks). */
  peer?: boolean;
  /** Every answer with its SA grade, no grading rule (RAW_GRADING): the input lab/eval/calibrate.ts fits a rule on. */
  rawGrades?: boolean;
}

const groupOf = (age: number) => AGE_BINS.find((b) => age >= b.from && age <= b.to)!.name;

/** The labelled faces of a clip: `n` from the split, spread over genders and ages. */
export function pickFaces(samples: UtkSample[], n: number, seed: number, offset: number): TruthFace[] {
  const r = rng(seed + offset * 7919);
  const pool = [...samples];
  for (let i = pool.length - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [pool[i], pool[j]] = [pool[j]!, pool[i]!]; }
  return pool.slice(0, n).map((s, i) => ({ id: i, file: s.file, gender: s.gender === 0 ? 'male' : 'female', age: s.age, ageGroup: groupOf(s.age) }));
}

/**
 * Where each face is on each frame: groups of four in four slots, each face drifting
 * sideways by half its width over its visit; the first face again at the end.
 */
export function layout(faces: TruthFace[], size: number): { placements: Placement[][]; visits: Visit[] } {
  const side = Math.round(size / FACE_SHARE);
  const visit = VISIT_S * FPS, gap = Math.round(GAP_S * FPS);
  const slots = [0.2, 0.4, 0.6, 0.8].map((fx, i) => ({ x: fx * WIDTH - side / 2, y: (i % 2 ? 0.58 : 0.42) * HEIGHT - side / 2 }));
  const schedule: Array<{ id: number; start: number; slot: number }> = [];
  let t = gap;
  for (let g = 0; g * GROUP < faces.length; g++) {
    faces.slice(g * GROUP, g * GROUP + GROUP).forEach((f, k) => schedule.push({ id: f.id, start: t, slot: k }));
    t += visit + gap;
  }
  // the first face comes back (another slot: a return visit, not a continued track)
  schedule.push({ id: faces[0]!.id, start: t, slot: 2 });
  t += visit + gap;
  const placements: Placement[][] = Array.from({ length: t }, () => []);
  for (const s of schedule) {
    for (let k = 0; k < visit; k++) {
      const drift = (k / visit - 0.5) * 0.5 * size;
      placements[s.start + k]!.push({ id: s.id, x: Math.round(slots[s.slot]!.x + drift), y: Math.round(slots[s.slot]!.y), side });
    }
  }
  return { placements, visits: schedule.map((s) => ({ id: s.id, fromMs: (s.start / FPS) * 1000, toMs: ((s.start + visit - 1) / FPS) * 1000 })) };
}


/** The background's frames at the clip's size and rate, blurred (its own faces unrecognisable). */
function backgroundFrames(file: string, count: number): Uint8Array[] {
  const ffmpeg = findFfmpeg().path;
  const r = spawnSync(ffmpeg, ['-v', 'error', '-i', file, '-vf', `fps=${FPS},scale=${WIDTH}:${HEIGHT},boxblur=12:2`, '-frames:v', String(Math.min(count, 200)),
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`ffmpeg could not read the background ${file}: ${r.stderr?.toString().slice(-300)}`);
  const frame = WIDTH * HEIGHT * 3;
  const out: Uint8Array[] = [];
  for (let i = 0; i + frame <= r.stdout.length; i += frame) out.push(new Uint8Array(r.stdout.subarray(i, i + frame)));
  if (!out.length) throw new Error(`no frame in the background ${file}`);
  return out;
}

/** Writes the clip (H.264, 10 fps) and returns its ground truth. */
export async function buildClip(out: string, faces: TruthFace[], size: number, background: string): Promise<ClipTruth> {
  const { placements, visits } = layout(faces, size);
  const bg = backgroundFrames(background, placements.length);
  const crops = new Map<number, RgbImage>();
  const side = Math.round(size / FACE_SHARE);
  for (const f of faces) {
    const src = await decodeImage(f.file);
    crops.set(f.id, resizeArea(src, { x: 0, y: 0, width: src.width, height: src.height }, side, side));
  }
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const enc = spawn(findFfmpeg().path, ['-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${WIDTH}x${HEIGHT}`, '-r', String(FPS), '-i', '-',
    '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-pix_fmt', 'yuv420p', '-g', String(2 * FPS), out], { stdio: ['pipe', 'ignore', 'pipe'] });
  let err = '';
  enc.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const done = new Promise<number | null>((resolve) => enc.on('close', resolve));
  for (const [i, frame] of placements.entries()) {
    const buf = Buffer.from(bg[i % bg.length]!);
    for (const p of frame) {
      const c = crops.get(p.id)!;
      for (let y = 0; y < c.height; y++) {
        const fy = p.y + y;
        if (fy < 0 || fy >= HEIGHT) continue;
        const x0 = Math.max(0, p.x), x1 = Math.min(WIDTH, p.x + c.width);
        if (x1 <= x0) continue;
        const from = (y * c.width + (x0 - p.x)) * 3;
        buf.set(c.data.subarray(from, from + (x1 - x0) * 3), (fy * WIDTH + x0) * 3);
      }
    }
    if (!enc.stdin!.write(buf)) await new Promise((r) => enc.stdin!.once('drain', r));
  }
  enc.stdin!.end();
  if ((await done) !== 0) throw new Error(`ffmpeg could not write ${out}: ${err.slice(-300)}`);
  return { size, frames: placements.length, fps: FPS, faces, placements, visits };
}

/** The face a box belongs to on a frame: the one whose pasted crop holds the box's centre. */
export function faceAt(truth: ClipTruth, ptsMs: number, box: { x: number; y: number; width: number; height: number }, frameWidth: number): number | undefined {
  const k = WIDTH / frameWidth;
  const cx = (box.x + box.width / 2) * k, cy = (box.y + box.height / 2) * k;
  const frame = truth.placements[Math.round((ptsMs / 1000) * truth.fps)] ?? [];
  return frame.find((p) => cx >= p.x && cx < p.x + p.side && cy >= p.y && cy < p.y + p.side)?.id;
}

export interface GradeStats { share: number; accuracy: number | null; n: number }
export interface ClipScore {
  pipeline: string;
  size: number;
  visits: number;
  /** Visits (a face's appearances) with at least one track. */
  facesFound: number;
  tracksPerFace: number | null;
  /** Tracks that followed no labelled face (the background's, or false detections). */
  unlabelledTracks: number;
  tracks: number;
  /** Every answer (`accuracy`), the ones the aggregates count (`counted`: graded B or better), and each grade's. */
  gender: { answered: number; accuracy: number | null; counted: { n: number; accuracy: number | null }; byGrade: Record<Grade, GradeStats> };
  ageGroup: { answered: number; accuracy: number | null; counted: { n: number; accuracy: number | null }; byGrade: Record<Grade, GradeStats> };
  ageMae: { all: number | null; byBand: Record<string, { mae: number | null; n: number }> };
  /** Each labelled track: what was said and what is true (for calibrating the grades). */
  rows: TrackRow[];
  /**
   * Unique visitors (reid) on the labelled tracks: the people found, the visitors counted
   * (tracks not recognised as returning), visits of one person merged into another's
   * visitor (false merges) and return visits counted as new people.
   */
  visitors: { people: number; counted: number; falseMerges: number; missedReturns: number; errorShare: number | null };
  /**
   * With a peer's answers on the same tracks (faceApiOnTracks): on the labelled tracks both
   * answered, the age MAE (all, and adults 20-59) and gender accuracy of ours and the peer's.
   */
  peer?: { name: string; tracks: number; ageMae: { ours: number | null; peer: number | null }; adultAgeMae: { n: number; ours: number | null; peer: number | null }; gender: { ours: number | null; peer: number | null } };
}

export interface TrackRow {
  face: number; gender: string; age: number; ageGroup: string;
  /** The track's best face width in the analysed frame (px), and its eye distance there. */
  widthPx: number | null;
  eyeDistPx?: number;
  said?: { gender?: SaidClass; ageGroup?: SaidClass; age?: number };
  /** The peer's answer on the same track, with `--peer`: its mean age and the share of its looks that said male. */
  peer?: { age: number; male: number; looks: number };
}
export interface SaidClass { value: string; probability: number; confidence: number; grade: Grade; frames: number; check?: 'agrees' | 'disagrees'; checks?: Record<string, 'agrees' | 'disagrees'> }

/** Scores a pipeline's events on a clip against its truth. */
export function scoreClip(pipeline: string, truth: ClipTruth, events: FacestreamEvent[], peer?: { name: string; answers: Map<number, PeerAnswer> }): ClipScore {
  const frameWidth = (events.find((e) => e.type === 'stream.format') as { frame?: { width: number } } | undefined)?.frame?.width ?? WIDTH;
  const votes = new Map<number, Map<number, number>>(); // track -> face -> boxes
  const vote = (track: number, face: number | undefined) => {
    if (face == null) return;
    const m = votes.get(track) ?? new Map<number, number>();
    votes.set(track, m);
    m.set(face, (m.get(face) ?? 0) + 1);
  };
  for (const e of events) {
    if (e.type === 'track.started' || e.type === 'track.updated') vote(e.trackId, faceAt(truth, e.ptsMs, e.box, frameWidth));
  }
  const ended = events.filter((e): e is TrackEnded & { id: string } => e.type === 'track.ended');
  const faceOf = (t: number) => {
    const m = votes.get(t);
    if (!m) return undefined;
    return [...m.entries()].sort((a, b) => b[1] - a[1])[0]![0];
  };
  // visits found: a face's appearances are told apart by time (the return visit is later)
  const found = new Set<string>();
  let labelled = 0;
  const g = { answered: 0, right: 0, byGrade: new Map<Grade, { n: number; right: number }>() };
  const a = { answered: 0, right: 0, byGrade: new Map<Grade, { n: number; right: number }>() };
  const ageErr: number[] = [];
  const band = new Map<string, number[]>();
  const rows: TrackRow[] = [];
  const visitorFace = new Map<string, number>(); // visitor id -> the face of its first visit
  const vis = { counted: 0, falseMerges: 0, missedReturns: 0 };
  const people = new Set<number>();
  const both: Array<{ age: number; ours: number; peer: number; oursMale: boolean; peerMale: boolean; male: boolean }> = [];
  for (const t of ended) {
    const id = faceOf(t.trackId);
    if (id == null) continue;
    labelled++;
    const f = truth.faces.find((x) => x.id === id)!;
    // which of the face's visits: the one whose time span holds the track's first sighting
    const v = truth.visits.findIndex((x) => x.id === id && t.firstSeenMs >= x.fromMs - 500 && t.firstSeenMs <= x.toMs + 500);
    found.add(`${id}:${v}`);
    // tracks end in time order: a face's first track makes its visitor, later ones should match it
    const seenFace = people.has(id);
    people.add(id);
    if (!t.visitor?.returning) {
      vis.counted++;
      if (seenFace) vis.missedReturns++;
      if (t.visitor) visitorFace.set(t.visitor.id, id);
    } else if (visitorFace.get(t.visitor.id) !== id) {
      vis.falseMerges++;
    }
    const at = t.attributes;
    const other = peer?.answers.get(t.trackId);
    rows.push({
      face: id, gender: f.gender, age: f.age, ageGroup: f.ageGroup, widthPx: t.bestQuality?.widthPx ?? null, ...(t.bestQuality ? { eyeDistPx: t.bestQuality.eyeDistPx } : {}),
      ...(at ? { said: { gender: at.gender, ageGroup: at.ageGroup, age: at.age } } : {}),
      ...(other ? { peer: { age: Math.round(other.age * 100) / 100, male: Math.round(other.male * 1000) / 1000, looks: other.looks } } : {}),
    });
    for (const [tally, said, truthValue] of [[g, at?.gender, f.gender], [a, at?.ageGroup, f.ageGroup]] as const) {
      if (!said) continue;
      tally.answered++;
      const ok = said.value === truthValue;
      if (ok) tally.right++;
      const s = tally.byGrade.get(said.grade) ?? { n: 0, right: 0 };
      s.n++; if (ok) s.right++;
      tally.byGrade.set(said.grade, s);
    }
    if (other && at?.age != null && at.gender) {
      both.push({ age: f.age, ours: at.age, peer: other.age, oursMale: at.gender.value === 'male', peerMale: other.male >= 0.5, male: f.gender === 'male' });
    }
    if (at?.age != null) {
      const err = Math.abs(at.age - f.age);
      ageErr.push(err);
      const b = AGE_BANDS.find((x) => f.age >= x.from && f.age <= x.to)!.name;
      band.set(b, [...(band.get(b) ?? []), err]);
    }
  }
  const mean = (xs: number[]) => (xs.length ? Math.round((xs.reduce((p, x) => p + x, 0) / xs.length) * 100) / 100 : null);
  const ratio = (n: number, d: number) => (d ? Math.round((n / d) * 1000) / 1000 : null);
  const grades = (m: Map<Grade, { n: number; right: number }>, answered: number) =>
    Object.fromEntries(GRADES.map((gr) => {
      const s = m.get(gr) ?? { n: 0, right: 0 };
      return [gr, { share: ratio(s.n, answered) ?? 0, accuracy: ratio(s.right, s.n), n: s.n }];
    })) as Record<Grade, GradeStats>;
  // what the aggregates count (minGrade B): the answers graded S, A or B
  const counted = (m: Map<Grade, { n: number; right: number }>) => {
    const [n, right] = (['S', 'A', 'B'] as const).reduce(([x, y], gr) => [x + (m.get(gr)?.n ?? 0), y + (m.get(gr)?.right ?? 0)], [0, 0]);
    return { n, accuracy: ratio(right, n) };
  };
  return {
    pipeline, size: truth.size, visits: truth.visits.length,
    facesFound: ratio(found.size, truth.visits.length) ?? 0,
    tracksPerFace: ratio(labelled, found.size),
    unlabelledTracks: ended.length - labelled, tracks: ended.length,
    gender: { answered: g.answered, accuracy: ratio(g.right, g.answered), counted: counted(g.byGrade), byGrade: grades(g.byGrade, g.answered) },
    ageGroup: { answered: a.answered, accuracy: ratio(a.right, a.answered), counted: counted(a.byGrade), byGrade: grades(a.byGrade, a.answered) },
    ageMae: { all: mean(ageErr), byBand: Object.fromEntries(AGE_BANDS.map((b) => [b.name, { mae: mean(band.get(b.name) ?? []), n: (band.get(b.name) ?? []).length }])) },
    rows,
    visitors: { people: people.size, ...vis, errorShare: people.size ? Math.round(((vis.counted - people.size) / people.size) * 1000) / 1000 : null },
    ...(peer ? { peer: peerFigures(peer.name, both, mean, ratio) } : {}),
  };
}

function peerFigures(name: string, both: Array<{ age: number; ours: number; peer: number; oursMale: boolean; peerMale: boolean; male: boolean }>, mean: (xs: number[]) => number | null, ratio: (n: number, d: number) => number | null): NonNullable<ClipScore['peer']> {
  const adults = both.filter((b) => b.age >= ADULTS.from && b.age <= ADULTS.to);
  return {
    name, tracks: both.length,
    ageMae: { ours: mean(both.map((b) => Math.abs(b.ours - b.age))), peer: mean(both.map((b) => Math.abs(b.peer - b.age))) },
    adultAgeMae: { n: adults.length, ours: mean(adults.map((b) => Math.abs(b.ours - b.age))), peer: mean(adults.map((b) => Math.abs(b.peer - b.age))) },
    gender: { ours: ratio(both.filter((b) => b.oursMale === b.male).length, both.length), peer: ratio(both.filter((b) => b.peerMale === b.male).length, both.length) },
  };
}

/** A peer's answer on one track: its age estimate and the share of its looks that said male. */
export interface PeerAnswer { age: number; male: number; looks: number }

/**
 * face-api's age and gender on the same tracks: its shipped age/gender net on the box of each
 * of a track's `track.started`/`track.updated` events (the frames the pipeline reported the
 * track on, decoded again as the pipeline's ingest decodes them), averaged over those looks.
 * The box is our detector's, fed as face-api's own pipeline feeds its detector's box.
 */
export async function faceApiOnTracks(clip: string, pipeline: string, events: FacestreamEvent[]): Promise<Map<number, PeerAnswer>> {
  const ingest = loadPipeline(pipeline).elements[0]!.options as { fps?: number; maxWidth?: number };
  const wanted = new Map<number, Array<{ track: number; box: { x: number; y: number; width: number; height: number } }>>();
  for (const e of events) {
    if (e.type !== 'track.started' && e.type !== 'track.updated') continue;
    wanted.set(e.ptsMs, [...(wanted.get(e.ptsMs) ?? []), { track: e.trackId, box: e.box }]);
  }
  const { tf, initRuntime } = await import('../../src/runtime/index.ts');
  await initRuntime({ quiet: true });
  // the same net and weights the product's `face-api` gender check loads
  const net = await loadFaceApiNet('ageGender', faceApiModelDir());
  const sums = new Map<number, { age: number; male: number; looks: number }>();
  try {
    const frames$ = fromSource(clip, { fps: ingest.fps ?? 5, ...(ingest.maxWidth ? { maxWidth: ingest.maxWidth } : {}) });
    // only the frames with a box are kept (about one a second a track), each looked at in turn
    await lastValueFrom(frames$.pipe(filter((f) => wanted.has(f.ptsMs)), concatMap(async (frame) => {
      for (const { track, box } of wanted.get(frame.ptsMs)!) {
        const cut = clipToImage(box, frame.width, frame.height);
        if (!cut) continue;
        const face = tf.tensor3d(cropRgb(frame, cut).data, [cut.height, cut.width, 3], 'int32');
        try {
          const r = await net.predictAgeAndGender(face) as FaceApiAgeGender; // one face in, one answer out
          const s = sums.get(track) ?? { age: 0, male: 0, looks: 0 };
          s.age += r.age; s.male += r.gender === 'male' ? 1 : 0; s.looks++;
          sums.set(track, s);
        } finally {
          face.dispose();
        }
      }
    })), { defaultValue: undefined });
  } finally {
    net.dispose(false);
  }
  return new Map([...sums].map(([t, s]) => [t, { age: s.age / s.looks, male: s.male / s.looks, looks: s.looks }]));
}


/** The pipeline `name` (or file), with `rawGrades` its track element graded by RAW_GRADING. */
export function evalPipeline(name: string, rawGrades = false): PipelineConfig {
  const p = loadPipeline(name);
  if (!rawGrades) return p;
  return { ...p, elements: p.elements.map((e) => (e.element === 'track' ? { ...e, options: { ...e.options, grading: RAW_GRADING } } : e)) };
}

/** Runs one pipeline on a clip file to its end; its events. */
export async function runPipeline(pipeline: string | PipelineConfig, clip: string, shared: SharedResources, onProgress?: (line: string) => void, frames?: number, reid: { windowMinutes: number; maxDistance: number } = REID): Promise<FacestreamEvent[]> {
  const config = typeof pipeline === 'string' ? loadPipeline(pipeline) : pipeline;
  const events: FacestreamEvent[] = [];
  // each clip its own visitors (as a node with the default reid settings)
  const visitors = visitorService(reid);
  const s = startStream({ name: `eval/${path.basename(clip, '.mp4')}`, uri: clip, pipeline: config, live: false, endOnEof: true, shared, visitors, onEvent: (e) => events.push(e) });
  // a slow pipeline (ssd at full resolution on wasm) takes minutes per clip: say how far it is
  const timer = onProgress && setInterval(() => onProgress(`${config.name} on ${path.basename(clip)}: ${s.stats.analysed} frames analysed${frames ? ` of about ${frames}` : ''}`), 15_000);
  const end = await s.done.finally(() => clearInterval(timer));
  if (end.error) throw new Error(`${config.name} on ${clip}: ${end.error.message}`);
  return events;
}

export interface VideoEvalReport {
  split: string;
  faces: number;
  seed: number;
  clips: Array<{ size: number; file: string; frames: number; visits: number }>;
  results: ClipScore[];
  seconds: number;
}

export async function evalVideo(o: VideoEvalOptions): Promise<VideoEvalReport> {
  const t0 = Date.now();
  const n = o.faces ?? 16;
  const seed = o.seed ?? 1;
  const { samples } = readUtkface(o.utkface);
  const pool = samples.filter((s) => o.split === 'all' || isValidation(s.file));
  if (pool.length < n) throw new Error(`${o.utkface}: ${pool.length} faces in the ${o.split} split, fewer than ${n}`);
  const shared = new SharedResources();
  const report: VideoEvalReport = { split: o.split, faces: n, seed, clips: [], results: [], seconds: 0 };
  try {
    for (const [i, size] of o.sizes.entries()) {
      const faces = pickFaces(pool, n, seed, i);
      const clip = path.join(o.workDir, `eval-${o.split}-s${size}-n${n}-seed${seed}.mp4`);
      const truthFile = `${clip}.json`;
      let truth: ClipTruth;
      if (fs.existsSync(clip) && fs.existsSync(truthFile)) {
        truth = JSON.parse(fs.readFileSync(truthFile, 'utf8')) as ClipTruth;
      } else {
        o.onProgress?.(`building the ${size}-px clip (${n} faces)`);
        truth = await buildClip(clip, faces, size, o.background);
        fs.writeFileSync(truthFile, JSON.stringify(truth));
      }
      report.clips.push({ size, file: clip, frames: truth.frames, visits: truth.visits.length });
      for (const p of o.pipelines) {
        const t = Date.now();
        const analysed = Math.round((truth.frames / truth.fps) * ((loadPipeline(p).elements[0]!.options as { fps?: number }).fps ?? 5));
        const events = await runPipeline(evalPipeline(p, o.rawGrades), clip, shared, o.onProgress, analysed, o.reid ?? REID);
        const peer = o.peer ? { name: 'face-api', answers: await faceApiOnTracks(clip, p, events) } : undefined;
        const score = scoreClip(p, truth, events, peer);
        report.results.push(score);
        o.onProgress?.(`${p} at ${size} px: found ${Math.round(score.facesFound * 100)}%, gender ${score.gender.accuracy ?? '-'} (counted ${score.gender.counted.accuracy ?? '-'} on ${score.gender.counted.n}) `
          + `(S ${score.gender.byGrade.S.accuracy ?? '-'} on ${score.gender.byGrade.S.n}), age group ${score.ageGroup.accuracy ?? '-'}, age MAE ${score.ageMae.all ?? '-'}, `
          + `visitors ${score.visitors.counted} for ${score.visitors.people} people (${score.visitors.falseMerges} false merges)`
          + (score.peer ? `, adults' age MAE ${score.peer.adultAgeMae.ours ?? '-'} vs face-api ${score.peer.adultAgeMae.peer ?? '-'} on the same ${score.peer.adultAgeMae.n} tracks` : '')
          + ` (${Math.round((Date.now() - t) / 1000)} s)`);
      }
    }
  } finally {
    await shared.dispose();
  }
  report.seconds = Math.round((Date.now() - t0) / 1000);
  return report;
}

/** A table of the report for a terminal: one line per pipeline and size. */
export function summaryLines(r: VideoEvalReport): string[] {
  const pct = (v: number | null) => (v == null ? '   -' : `${(v * 100).toFixed(0).padStart(3)}%`);
  const lines = [`${r.faces} labelled faces per size (${r.split} split), ${r.seconds} s`,
    'pipeline      size  found  tracks/face  gender  gender@S (n)  age group  group@S (n)  age MAE  visitors/people (false merges)'];
  for (const s of r.results) {
    lines.push(`${s.pipeline.padEnd(12)} ${String(s.size).padStart(5)}  ${pct(s.facesFound)}  ${String(s.tracksPerFace ?? '-').padStart(11)}  ${pct(s.gender.accuracy)}  `
      + `${pct(s.gender.byGrade.S.accuracy)} (${String(s.gender.byGrade.S.n).padStart(2)})      ${pct(s.ageGroup.accuracy)}  ${pct(s.ageGroup.byGrade.S.accuracy)} (${String(s.ageGroup.byGrade.S.n).padStart(2)})  ${String(s.ageMae.all ?? '-').padEnd(7)}  ${s.visitors ? `${s.visitors.counted}/${s.visitors.people} (${s.visitors.falseMerges})` : '-'}`);
  }
  return lines;
}
