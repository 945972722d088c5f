import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIGURATION_DOC, configurationReference } from '../lab/docs.ts';

describe('docs', () => {
  it('docs/configuration.md is what the schemas generate (run npm run docs after changing a schema)', () => {
    const text = configurationReference();
    expect(text).toContain('| `http.host` | string | `"127.0.0.1"` |');
    expect(text).toContain('### `ingest`');
    expect(fs.readFileSync(CONFIGURATION_DOC, 'utf8')).toBe(text);
  });
});
