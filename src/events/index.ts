/**
 * `facestream/events`: the event types, their type names, the event id helpers and the
 * path of the events' JSON Schema (schema/events.schema.json, also at GET /api/schema).
 */
import path from 'node:path';
import { PROJECT_ROOT } from '../data.ts';

export * from './types.ts';
export { compareEventIds, isEventId, parseEventId, type EventId } from './ids.ts';

/** The events' JSON Schema (draft-07), shipped in the package. */
export const EVENT_SCHEMA_FILE = path.join(PROJECT_ROOT, 'schema', 'events.schema.json');
