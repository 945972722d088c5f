/**
 * The element registry: config name -> options schema and stage factory. A stage turns
 * one analysed frame into the next form; the runner chains the stages of a pipeline
 * inside one bounded queue, so a slow model drops (live) or pauses (file) instead of
 * queueing without bound.
 */
import type { VisitorService } from '../models/faces/recognizer.ts';
import type { z } from 'zod';
import type { FacestreamEvent } from '../events/types.ts';
import type { SharedResources } from './shared.ts';
import type { Frame } from '../ingest/fromSource.ts';
import type { AnalysedFrame } from './types.ts';

export interface ElementContext {
  stream: string;
  live: boolean;
  /** Adds to one of the stream's counters (reported in stats and metrics). */
  count(name: string, by?: number): void;
  /** Emits an event with the stream's name, schema version and time filled in; returns its id. */
  emit(event: Record<string, unknown> & { type: string }): { id: string } | void;
  /**
   * Set only with `storage.snapshots`: receives the JPEG thumbnail of an ended track (the
   * id of its `track.ended` event), kept with the track's row; never part of an event.
   */
  snapshot?(trackEndedId: string, jpeg: Buffer): void;
  /** Set with `reid` on: which visitor an ended track's face is (unique visitors); embeddings stay inside. */
  visitors?: VisitorService;
  /** The pipeline's elements with their validated options (align reads the attribute model's framing). */
  elements?: ReadonlyArray<{ element: string; options: unknown }>;
  /** Models, batchers and worker pools shared by the streams of one app (or of this stream alone). */
  shared: SharedResources;
}

/** The validated options of another element of the same pipeline, if it has one. */
export function optionsOf<T>(ctx: ElementContext, element: string): T | undefined {
  return ctx.elements?.find((e) => e.element === element)?.options as T | undefined;
}

/** One element's work on each frame: reads what the elements before it made and adds its own. */
export interface Stage<I> {
  process(item: I): Promise<AnalysedFrame> | AnalysedFrame;
  /**
   * The stream ended: a last item for the elements after this one (the tracks still open,
   * ended), or nothing. Flushing goes forward like every frame.
   */
  flush?(): AnalysedFrame | undefined | Promise<AnalysedFrame | undefined>;
  dispose?(): void;
}

/** The element right after ingest: a decoded frame in, the faces found on it out. */
export type SourceStage = Stage<Frame>;
/** Every later element: the analysed frame in, with its own part added, out. */
export type FrameStage = Stage<AnalysedFrame>;

interface ElementBase<O> {
  name: string;
  description: string;
  options: z.ZodType<O>;
  /** Elements whose output this one reads: each must come earlier in the pipeline (checked at load). */
  after?: string[];
}

/**
 * An element: `reads: 'frames'` for the one that comes right after ingest and turns decoded
 * frames into faces (detect); every other reads the analysed frame. Ingest has no stage (it
 * is the source). `create` may load models.
 */
export type ElementDef<O = unknown> = ElementBase<O> & (
  | { reads: 'frames'; create: (options: O, ctx: ElementContext) => SourceStage | Promise<SourceStage> }
  | { reads?: undefined; create?: (options: O, ctx: ElementContext) => FrameStage | Promise<FrameStage> }
);

const elements = new Map<string, ElementDef<never>>();

export function registerElement<O>(def: ElementDef<O>): void {
  elements.set(def.name, def as unknown as ElementDef<never>);
}

export function getElement(name: string): ElementDef<unknown> | undefined {
  return elements.get(name) as ElementDef<unknown> | undefined;
}

/** An element that reads the decoded frames (the one right after ingest). */
export type SourceElement = Extract<ElementDef<unknown>, { reads: 'frames' }>;
/** An element that reads the analysed frame. */
export type FrameElement = Exclude<ElementDef<unknown>, SourceElement>;

/** The element `name` if it reads the decoded frames; `undefined` otherwise. */
export function sourceElement(name: string): SourceElement | undefined {
  const def = getElement(name);
  return def?.reads === 'frames' ? def : undefined;
}

/** The element `name` if it reads the analysed frame and has a stage; `undefined` otherwise. */
export function frameElement(name: string): (FrameElement & Required<Pick<FrameElement, 'create'>>) | undefined {
  const def = getElement(name);
  return def && def.reads !== 'frames' && def.create ? def as FrameElement & Required<Pick<FrameElement, 'create'>> : undefined;
}

export function elementNames(): string[] {
  return [...elements.keys()];
}

export type { FacestreamEvent };
