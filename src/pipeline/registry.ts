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

export interface Stage<I = unknown, O = unknown> {
  process(item: I): Promise<O> | O;
  /**
   * The stream ended: a last item for the elements after this one (the tracks still open,
   * ended), or nothing. Flushing goes forward like every frame.
   */
  flush?(): unknown | Promise<unknown>;
  dispose?(): void;
}

export interface ElementDef<O = unknown> {
  name: string;
  description: string;
  options: z.ZodType<O>;
  /** Stage factory; `ingest` has none (it is the source). May load models. */
  create?: (options: O, ctx: ElementContext) => Stage | Promise<Stage>;
  /** Elements whose output this one reads: each must come earlier in the pipeline (checked at load). */
  after?: string[];
}

const elements = new Map<string, ElementDef<never>>();

export function registerElement<O>(def: ElementDef<O>): void {
  elements.set(def.name, def as unknown as ElementDef<never>);
}

export function getElement(name: string): ElementDef<unknown> | undefined {
  return elements.get(name) as ElementDef<unknown> | undefined;
}

export function elementNames(): string[] {
  return [...elements.keys()];
}

export type { FacestreamEvent };
