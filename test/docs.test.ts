import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { parseAppConfig } from '../src/config.ts';
import { PROJECT_ROOT } from '../src/data.ts';
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

  it('deploy/: the compose file\'s nodes share one config that facestream accepts, reach the Redis and PostgreSQL it defines, and stop gracefully', () => {
    const compose = YAML.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'deploy', 'compose.yaml'), 'utf8'), { merge: true }) as {
      services: Record<string, { volumes?: string[]; ports?: string[]; stop_grace_period?: string; environment?: Record<string, string> }>;
    };
    const nodes = Object.entries(compose.services).filter(([n]) => /^node\d+$/.test(n));
    expect(nodes.length).toBeGreaterThanOrEqual(3);
    for (const [, s] of nodes) {
      expect(s.volumes).toContain('./facestream.yaml:/etc/facestream/facestream.yaml:ro');
      expect(s.stop_grace_period).toBe('30s');
      expect(Object.keys(s.environment ?? {})).toContain('FACESTREAM_TOKEN');
    }
    // every node its own host ports
    const hostPorts = nodes.flatMap(([, s]) => (s.ports ?? []).map((p) => p.split(':')[0]));
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
    const doc = YAML.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'deploy', 'facestream.yaml'), 'utf8'));
    const saved = process.env.FACESTREAM_TOKEN;
    process.env.FACESTREAM_TOKEN = 'a-long-secret';
    try {
      const config = parseAppConfig(doc, 'deploy/facestream.yaml');
      expect(config.bus).toMatchObject({ kind: 'redis', url: 'redis://redis:6379' });
      expect(config.storage.kind).toBe('postgres');
      expect(new URL(config.storage.url!).hostname).toBe('postgres');
      expect(config.http.token).toBe('a-long-secret'); // listening on 0.0.0.0 needs it
    } finally {
      if (saved == null) delete process.env.FACESTREAM_TOKEN; else process.env.FACESTREAM_TOKEN = saved;
    }
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['redis', 'postgres']));
  });
});
