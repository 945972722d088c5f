/** The pipeline's source element, `ingest` (the analysis elements are in src/operators; src/runner/elements.ts registers them all). */
import { z } from 'zod';
import { registerElement } from './registry.ts';

export const ingestOptions = z.strictObject({
  fps: z.number().min(0).max(120).default(5),
  maxWidth: z.number().int().min(64).max(7680).optional(),
  stallTimeoutMs: z.number().int().min(500).max(600_000).default(5000),
  maxRestarts: z.number().int().min(0).max(1000).default(5),
  backoffMs: z.number().int().min(10).max(60_000).default(500),
  queue: z.number().int().min(1).max(256).default(4).describe('Frames waiting in front of the analysis; beyond it a live source drops the oldest.'),
});
export type IngestOptions = z.infer<typeof ingestOptions>;

registerElement({
  name: 'ingest',
  description: 'decode the source with ffmpeg into RGB frames at the analysis rate',
  options: ingestOptions,
});
