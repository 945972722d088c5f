/**
 * The element registry: config name -> options schema and factory. This issue registers
 * `ingest`; later stages (detect, track, attributes, ...) register theirs the same way.
 */
import type { z } from 'zod';
import type { OperatorFunction } from 'rxjs';

export interface ElementContext {
  stream: string;
  live: boolean;
  /** Counts and reports to the pipeline's stats. */
  count(name: string, by?: number): void;
}

export interface ElementDef<O = unknown> {
  name: string;
  description: string;
  options: z.ZodType<O>;
  /** Operator factory; `ingest` has none (it is the source). */
  create?: (options: O, ctx: ElementContext) => OperatorFunction<unknown, unknown>;
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
