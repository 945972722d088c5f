/**
 * Runs one pipeline on one source: config -> ingest -> bounded analysis stage -> element
 * operators -> events. State lives here, per stream, never at module level: one process
 * serves many streams.
 */
import { Subscription, tap } from 'rxjs';
import { FacestreamError, errorMessage } from '../errors.ts';
import { redact, redactDeep } from '../redact.ts';
import { EVENT_SCHEMA_VERSION, type FacestreamEvent, type StreamEnded, type UnidentifiedEvent } from '../events/types.ts';
import { EventIds } from '../events/ids.ts';
import { Flow } from '../ingest/flow.ts';
import { checkSource, fromSource, isLive, type Frame } from '../ingest/fromSource.ts';
import { boundedMap } from '../operators/boundedMap.ts';
import { LatencyHistogram } from '../pipeline/latency.ts';
import type { IngestOptions } from '../pipeline/ingest.ts';
import { frameElement, sourceElement, type ElementContext, type FrameStage, type SourceStage } from '../pipeline/registry.ts';
import type { AnalysedFrame } from '../pipeline/types.ts';
import type { PipelineConfig } from '../pipeline/schema.ts';
import { createReportStage } from '../operators/report.ts';
import { SharedResources } from '../pipeline/shared.ts';
import type { VisitorService } from '../models/faces/recognizer.ts';
import './elements.ts';

export type StreamState = 'starting' | 'live' | 'stalled' | 'restarting' | 'ended' | 'error';

export interface StreamStats {
  frames: number;
  analysed: number;
  dropped: number;
  restarts: number;
  firstFrameLatencyMs?: number;
  counters: Record<string, number>;
  /** Decode-to-result latency of analysed frames. */
  latency: LatencyHistogram;
  /**
   * Milliseconds per analysed frame, a moving average over about the last 20 frames: `wait`
   * (decoded to analysis start: the queue), then each element after ingest in pipeline order
   * (a batched element's time includes waiting for its batch).
   */
  stageMs: Record<string, number>;
}

export interface StreamOptions {
  name: string;
  uri: string;
  pipeline: PipelineConfig;
  live?: boolean;
  /** Overrides of the ingest element's options (CLI flags). */
  ingest?: Partial<IngestOptions>;
  /** Stalled live streams restart (default) or end. */
  restartOnStall?: boolean;
  /** Consecutive failed decoder starts of a live source before the stream ends (Infinity: never). */
  maxRestarts?: number;
  /** The URL the decoder opens, asked at every (re)start (a signed URL that must stay fresh); default `uri`. */
  resolveUri?: () => string;
  endOnEof?: boolean;
  /** Read a file at its own frame rate, as a camera sends (benchmarks, demos). */
  realtime?: boolean;
  onEvent: (e: FacestreamEvent) => void;
  /** The node's event ids (one per node, so that every source of events for a stream continues one sequence); default the stream's own. */
  ids?: EventIds;
  /** The app's shared models, batchers and worker pools; without it the stream has its own, freed when it ends. */
  shared?: SharedResources;
  /** Receives every analysed item (an AnalysedFrame when the pipeline detects: frame, faces, answers). */
  onItem?: (item: AnalysedFrame) => void;
  /** With `storage.snapshots`: each ended track's thumbnail (JPEG) and the id of its track.ended event. */
  onSnapshot?: (trackEndedId: string, jpeg: Buffer) => void;
  /** With `reid`: the node's unique-visitor service, shared by its streams. */
  visitors?: VisitorService;
}

export interface RunningStream {
  readonly name: string;
  /** The source, credentials redacted. */
  readonly uri: string;
  readonly live: boolean;
  readonly pipeline: string;
  readonly startedAt: number;
  readonly stats: StreamStats;
  readonly state: StreamState;
  /** Why the stream is restarting, stalled or failed (credentials redacted). */
  readonly reason: string | undefined;
  readonly decoderPid: number | undefined;
  /** Resolves with the stream.ended event, however the stream ends. */
  readonly done: Promise<StreamEnded>;
  stop(): Promise<StreamEnded>;
}

/**
 * A pipeline's stages after ingest, in order: the first reads the decoded frame, every other
 * the analysed frame the ones before it made, and `report` (with tracks) comes last, once the
 * frame's answers exist. One frame goes forward only.
 */
export interface Chain {
  /** One frame through every stage; `after` is told each element's name and its output. */
  process(frame: Frame, after?: (element: string, item: AnalysedFrame) => void): Promise<AnalysedFrame>;
  /**
   * The stream ended: each stage flushes in order, what one sends on at the end (the open
   * tracks, ended) passing through the stages after it; then every stage is disposed.
   */
  close(): Promise<void>;
  /** Frees the stages without flushing. */
  dispose(): void;
}

/** The stages after ingest, models loaded: a bad model file is an error here, before any decoding. */
export async function createChain(pipeline: PipelineConfig, context: ElementContext): Promise<Chain> {
  const ctx: ElementContext = { ...context, elements: pipeline.elements };
  const [, first, ...rest] = pipeline.elements;
  const made: Array<{ element: string; stage: FrameStage | SourceStage }> = [];
  const dispose = () => { for (const { stage } of made.splice(0)) stage.dispose?.(); };
  try {
    const head = first && sourceElement(first.element);
    if (!head) throw new FacestreamError('FS_ERR_CONFIG', `pipeline "${pipeline.name}": elements[1] must read the decoded frames (detect)`);
    const source = await head.create(first!.options, ctx);
    made.push({ element: first!.element, stage: source });
    const stages: Array<{ element: string; stage: FrameStage }> = [];
    for (const { element, options } of rest) {
      const def = frameElement(element);
      if (!def) throw new FacestreamError('FS_ERR_CONFIG', `element "${element}" cannot come after elements[1]`);
      const stage = await def.create(options, ctx);
      made.push({ element, stage });
      stages.push({ element, stage });
    }
    // with tracks, `report` comes last: it emits the track events once the frame's answers exist
    const track = pipeline.elements.find((e) => e.element === 'track');
    if (track) {
      const stage = createReportStage(track.options as Parameters<typeof createReportStage>[0], ctx);
      made.push({ element: 'report', stage });
      stages.push({ element: 'report', stage });
    }
    return {
      async process(frame, after) {
        let item = await source.process(frame);
        after?.(first!.element, item);
        for (const { element, stage } of stages) {
          item = await stage.process(item);
          after?.(element, item);
        }
        return item;
      },
      async close() {
        let carry: AnalysedFrame | undefined;
        try {
          carry = await source.flush?.();
        } catch { /* flushing is best effort */ }
        for (const { stage } of stages) {
          try {
            if (carry !== undefined) carry = await stage.process(carry);
            const out = await stage.flush?.();
            carry ??= out;
          } catch { /* flushing is best effort */ }
        }
        dispose();
      },
      dispose,
    };
  } catch (err) {
    dispose();
    throw err;
  }
}

/**
 * Loads a pipeline's models (and starts its detector workers) into `shared` ahead of any
 * stream, so that a camera connecting later does not wait for them: the streams given the
 * same `shared` find them ready.
 */
export async function preparePipeline(pipeline: PipelineConfig, shared: SharedResources): Promise<void> {
  const chain = await createChain(pipeline, { stream: `prepare:${pipeline.name}`, live: false, count: () => {}, emit: () => {}, shared });
  chain.dispose();
}

export function startStream(opts: StreamOptions): RunningStream {
  const live = opts.live ?? isLive(opts.uri);
  const ingestCfg = opts.pipeline.elements[0]!.options as IngestOptions;
  const ingest: IngestOptions = { ...ingestCfg, ...Object.fromEntries(Object.entries(opts.ingest ?? {}).filter(([, v]) => v !== undefined)) };
  const stats: StreamStats = { frames: 0, analysed: 0, dropped: 0, restarts: 0, counters: {}, latency: new LatencyHistogram(), stageMs: {} };
  const observeStage = (name: string, ms: number) => {
    const prev = stats.stageMs[name];
    stats.stageMs[name] = Math.round((prev == null ? ms : prev + 0.1 * (ms - prev)) * 100) / 100;
  };
  const startedAt = Date.now();
  const flow = new Flow();
  let state: StreamState = 'starting';
  let reason: string | undefined;
  const uri = redact(opts.uri);
  let decoderPid: number | undefined;
  let ended: StreamEnded | undefined;
  let resolveDone!: (e: StreamEnded) => void;
  const done = new Promise<StreamEnded>((r) => { resolveDone = r; });
  const base = () => ({ v: EVENT_SCHEMA_VERSION as typeof EVENT_SCHEMA_VERSION, stream: opts.name, ts: Date.now() });
  const ids = opts.ids ?? new EventIds();
  const emit = <E extends UnidentifiedEvent>(e: E): E & { id: string } => {
    const event = { id: ids.next(e.stream, e.ts), ...e };
    try { opts.onEvent(redactDeep(event) as unknown as FacestreamEvent); } catch { /* a sink's failure never stops the stream */ }
    return event;
  };

  const finish = (error?: unknown): StreamEnded => {
    if (ended) return ended;
    state = error ? 'error' : 'ended';
    const err = error == null ? undefined
      : error instanceof FacestreamError ? { code: error.code, message: redact(error.message) }
      : { code: 'FS_ERR_SOURCE_FAILED', message: redact(errorMessage(error)) };
    reason = err?.message;
    if (err) emit({ ...base(), type: 'stream.error', ...err });
    const event: StreamEnded = emit({
      ...base(), type: 'stream.ended' as const, frames: stats.frames, dropped: stats.dropped, restarts: stats.restarts,
      durationMs: Date.now() - startedAt, counters: { ...stats.counters }, ...(err ? { error: err } : {}),
    });
    ended = event;
    resolveDone(event);
    return event;
  };

  emit({ ...base(), type: 'stream.started', uri, pipeline: opts.pipeline.name, live });

  const subscription = new Subscription();
  let stopped = false;
  const ownShared = opts.shared ? undefined : new SharedResources();
  const ctx: ElementContext = {
    shared: opts.shared ?? ownShared!,
    stream: opts.name, live,
    count: (name, by = 1) => { stats.counters[name] = (stats.counters[name] ?? 0) + by; },
    emit: (e) => emit({ ...base(), ...e } as UnidentifiedEvent),
    ...(opts.onSnapshot ? { snapshot: opts.onSnapshot } : {}),
    ...(opts.visitors ? { visitors: opts.visitors } : {}),
  };
  let chain: Chain | undefined;
  let format: { width: number; height: number } | undefined;

  const run = async () => {
    // The source is checked first (a missing file is said before any model loads); models load
    // before the decoder starts: a bad model file is an error at start-up.
    checkSource(opts.uri, { live });
    const stages = await createChain(opts.pipeline, ctx);
    if (stopped) { stages.dispose(); return; }
    chain = stages;
    const frames$ = fromSource(opts.uri, {
      name: opts.name, live, fps: ingest.fps, maxWidth: ingest.maxWidth, stallTimeoutMs: ingest.stallTimeoutMs,
      maxRestarts: opts.maxRestarts ?? ingest.maxRestarts, resolveUri: opts.resolveUri, backoffMs: ingest.backoffMs, restartOnStall: opts.restartOnStall ?? true,
      endOnEof: opts.endOnEof, realtime: opts.realtime, flow,
      onEvent: (e) => {
        switch (e.type) {
          case 'decoder.started': decoderPid = e.pid; break;
          case 'first-frame': stats.firstFrameLatencyMs ??= e.latencyMs; state = 'live'; reason = undefined; break;
          case 'stalled': state = 'stalled'; reason = `no frame for ${e.afterMs} ms`; emit({ ...base(), type: 'stream.stalled', afterMs: e.afterMs }); break;
          case 'decoder.exited': decoderPid = undefined; break;
          case 'restarting':
            stats.restarts++;
            state = 'restarting';
            reason = redact(e.reason);
            emit({ ...base(), type: 'stream.restarting', attempt: e.attempt, delayMs: e.delayMs, reason: e.reason });
            break;
        }
      },
    });
    const analyse = async (frame: Frame): Promise<AnalysedFrame> => {
      let t = performance.now();
      observeStage('wait', Math.max(0, Date.now() - frame.wallMs));
      return stages.process(frame, (element) => {
        const now = performance.now();
        observeStage(element, now - t);
        t = now;
      });
    };
    subscription.add(frames$.pipe(
      tap((f) => {
        stats.frames++;
        state = 'live';
        if (f.width !== format?.width || f.height !== format?.height) {
          format = { width: f.width, height: f.height };
          // scaled down only when wider than maxWidth: a narrower frame is the source's own size
          const unscaled = !ingest.maxWidth || f.width < ingest.maxWidth;
          emit({ ...base(), type: 'stream.format', frame: format, ...(unscaled ? { source: { ...format } } : {}) });
        }
      }),
      boundedMap(analyse, { maxQueue: ingest.queue, live, flow, onDrop: () => { stats.dropped++; } }),
    ).subscribe({
      next: (item) => {
        stats.analysed++;
        if (item.frame.wallMs) stats.latency.observeMs(Date.now() - item.frame.wallMs);
        opts.onItem?.(item);
      },
      error: (err) => void end(err),
      complete: () => void end(),
    }));
  };

  /** Flushes the stages (open tracks end), then reports the end of the stream. */
  let ending: Promise<StreamEnded> | undefined;
  const end = (error?: unknown): Promise<StreamEnded> => (ending ??= (async () => {
    // flushing goes forward like a frame (Chain.close)
    const last = chain;
    chain = undefined;
    await last?.close();
    await ownShared?.dispose();
    return finish(error);
  })());

  run().catch((err) => void end(err));

  function handle(): RunningStream {
    return {
      name: opts.name, uri, live, pipeline: opts.pipeline.name, startedAt, stats, done,
      get state() { return state; },
      get reason() { return reason; },
      get decoderPid() { return decoderPid; },
      stop: async () => {
        stopped = true;
        subscription.unsubscribe();
        return end();
      },
    };
  }
  return handle();
}
