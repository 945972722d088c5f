/**
 * `npm run schema`: the JSON Schema of the events (schema/events.schema.json), generated
 * from src/events/types.ts by ts-json-schema-generator, so that the published schema and the
 * TypeScript types cannot differ. test/schema.test.ts fails when the file is stale.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGenerator } from 'ts-json-schema-generator';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const EVENT_SCHEMA_FILE = path.join(ROOT, 'schema', 'events.schema.json');

export function generateEventSchema(): string {
  const schema = createGenerator({
    path: path.join(ROOT, 'src', 'events', 'types.ts'),
    tsconfig: path.join(ROOT, 'tsconfig.json'),
    type: 'FacestreamEvent',
    expose: 'export',
    topRef: true,
    jsDoc: 'extended',
    additionalProperties: false,
    skipTypeCheck: true,
  }).createSchema('FacestreamEvent');
  const doc = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://github.com/facestream/facestream/schema/events.schema.json',
    title: 'facestream event (schema version 1)',
    description: 'One event as socket.io, GET /api/events, Redis Streams and MQTT carry it. Generated from src/events/types.ts by `npm run schema`.',
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  fs.mkdirSync(path.dirname(EVENT_SCHEMA_FILE), { recursive: true });
  fs.writeFileSync(EVENT_SCHEMA_FILE, generateEventSchema());
  process.stdout.write(`${path.relative(ROOT, EVENT_SCHEMA_FILE)} written\n`);
}
