import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIGURATION_DOC, configurationReference } from '../lab/docs.ts';
import { modelCards } from '../lab/modelcard.ts';
import { EVENT_SCHEMA_FILE, generateEventSchema } from '../lab/schema.ts';

describe('docs', () => {
  it('docs/configuration.md is what the schemas generate (run npm run docs after changing a schema)', () => {
    const text = configurationReference();
    expect(text).toContain('| `http.host` | string | `"127.0.0.1"` |');
    expect(text).toContain('### `ingest`');
    expect(fs.readFileSync(CONFIGURATION_DOC, 'utf8')).toBe(text);
  });

  it('each shipped model has its MODEL_CARD.md, generated from its manifest (terms, figures by age band and grade, failure modes)', () => {
    const cards = modelCards();
    expect([...cards.keys()].some((f) => f.endsWith('models/attributes/MODEL_CARD.md'))).toBe(true);
    for (const [file, text] of cards) expect(fs.readFileSync(file, 'utf8'), file).toBe(text);
    const attr = [...cards.entries()].find(([f]) => f.endsWith('models/attributes/MODEL_CARD.md'))![1];
    expect(attr).toContain('non-commercial research');
    expect(attr).toMatch(/\| baby \| \d+ \| \d+\.\d% \|/);
    expect(attr).toContain('## Known failure modes');
  });

  it('schema/events.schema.json is what src/events/types.ts generates (run npm run schema after changing an event)', () => {
    const text = generateEventSchema();
    expect(JSON.parse(text).definitions.TrackEnded.properties.noAttributes).toBeDefined();
    expect(fs.readFileSync(EVENT_SCHEMA_FILE, 'utf8')).toBe(text);
  });
});
