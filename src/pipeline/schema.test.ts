import { describe, expect, it } from 'vitest';
import { loadPipeline, parsePipeline } from './schema.ts';
import { parseAppConfig } from '../config.ts';
import '../runner/elements.ts';

describe('pipeline schema', () => {
  it('loads every shipped pipeline', () => {
    for (const name of ['default', 'surveillance', 'demographics']) {
      const p = loadPipeline(name);
      expect(p.name).toBe(name);
      expect(p.elements[0]!.element).toBe('ingest');
    }
  });

  it('fills defaults and validates each element', () => {
    const p = parsePipeline({ name: 'x', elements: [{ ingest: {} }, { detect: {} }] }, 'x.yaml');
    expect(p.elements[0]!.options).toMatchObject({ fps: 5, stallTimeoutMs: 5000, queue: 4 });
    expect(() => parsePipeline({ name: 'x', elements: [{ ingest: { fps: -1 } }] }, 'x.yaml')).toThrow(/x\.yaml: elements\[0\]\.ingest\.fps/);
  });

  it('names unknown keys, unknown elements and the file', () => {
    expect(() => parsePipeline({ name: 'x', elements: [{ ingest: { history_len: 3 } }] }, 'p.yaml'))
      .toThrow('p.yaml: unknown key "elements[0].ingest.history_len"');
    expect(() => parsePipeline({ name: 'x', elemnts: [] }, 'p.yaml')).toThrow(/unknown key "elemnts"/);
    expect(() => parsePipeline({ name: 'x', elements: [{ ingest: {} }, { detekt: {} }] }, 'p.yaml'))
      .toThrow(/elements\[1\]: unknown element "detekt"/);
    expect(() => loadPipeline('nope')).toThrow(/no pipeline "nope".*known pipelines: .*default/);
  });

  it('each element needs the elements it reads before it, and the error says which', () => {
    expect(() => parsePipeline({ name: 'x', elements: [{ ingest: {} }, { align: {} }] }, 'p.yaml'))
      .toThrow('p.yaml: elements[1] "align" needs "detect" before it, and the pipeline has none');
    expect(() => parsePipeline({ name: 'x', elements: [{ ingest: {} }, { detect: {} }, { align: {} }, { attributes: {} }, { track: {} }] }, 'p.yaml'))
      .toThrow('p.yaml: elements[3] "attributes" needs "track" before it, but "track" is elements[4]');
    expect(() => parsePipeline({ name: 'x', elements: [{ ingest: {} }, { detect: {} }, { track: {} }, { align: {} }, { superres: {} }] }, 'p.yaml'))
      .toThrow(/"superres" needs "quality" before it/);
  });

  it('the element after ingest reads the decoded frames, and only it does', () => {
    expect(() => parsePipeline({ name: 'x', elements: [{ ingest: {} }] }, 'p.yaml'))
      .toThrow('p.yaml: elements[1] is missing: after ingest comes an element that reads the decoded frames (detect)');
    expect(() => parsePipeline({ name: 'x', elements: [{ ingest: {} }, { detect: {} }, { detect: {} }] }, 'p.yaml'))
      .toThrow('p.yaml: elements[2] "detect" reads the decoded frames: it must come right after ingest');
    expect(() => parsePipeline({ name: 'x', elements: [{ ingest: {} }, { detect: {} }, { ingest: {} }] }, 'p.yaml'))
      .toThrow('p.yaml: elements[2]: "ingest" can only be elements[0]');
  });

  it('app config: defaults, strict keys, unique source names', () => {
    expect(parseAppConfig({}, 'c')).toMatchObject({ rtmp: { port: 1935 }, http: { port: 8080 }, pipeline: 'default', sources: [] });
    expect(() => parseAppConfig({ sources: [{ name: 'a', url: 'rtsp://x', pipline: 'd' }] }, 'c.yaml')).toThrow('unknown key "sources[0].pipline"');
    expect(() => parseAppConfig({ sources: [{ name: 'a', url: 'x' }, { name: 'a', url: 'y' }] }, 'c.yaml')).toThrow(/used twice/);
  });

  it('scale-out settings: memory bus and SQLite by default; postgres needs a url; bad kinds are named', () => {
    expect(parseAppConfig({}, 'c')).toMatchObject({ bus: { kind: 'memory' }, storage: { kind: 'sqlite' }, node: {} });
    expect(() => parseAppConfig({ storage: { kind: 'postgres' } }, 'c.yaml')).toThrow('c.yaml: storage.url is required with storage.kind postgres');
    expect(() => parseAppConfig({ bus: { kind: 'kafka' } }, 'c.yaml')).toThrow(/bus\.kind/);
    expect(() => parseAppConfig({ node: { id: 'a b' } }, 'c.yaml')).toThrow(/node\.id/);
  });
});
