/**
 * Pipelines are data: `pipelines/<name>.yaml` lists elements and their options. The
 * schema is strict: an unknown or misspelt key fails at load with its path and file
 * named; every element validates its own options through the registry.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { FacestreamError } from '../errors.ts';
import { PROJECT_ROOT } from '../data.ts';
import { getElement, elementNames } from './registry.ts';

export const PIPELINES_DIR = path.join(PROJECT_ROOT, 'pipelines');

export interface ElementConfig { element: string; options: Record<string, unknown> }
export interface PipelineConfig { name: string; description?: string; elements: ElementConfig[]; file?: string }

const fileSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  elements: z.array(z.record(z.string(), z.unknown())).min(1),
});

export function formatIssues(issues: z.core.$ZodIssue[], prefix: Array<string | number> = []): string {
  return issues.map((i) => {
    const p = [...prefix, ...i.path].map((s, k) => (typeof s === 'number' ? `[${s}]` : k ? `.${String(s)}` : String(s))).join('');
    const keys = (i as { keys?: string[] }).keys;
    if (i.code === 'unrecognized_keys' && keys) {
      return keys.map((key) => `unknown key "${p ? `${p}.` : ''}${key}"`).join('; ');
    }
    return `${p || '(root)'}: ${i.message}`;
  }).join('; ');
}

/** Validates a parsed pipeline document; `where` names the file in errors. */
export function parsePipeline(doc: unknown, where: string): PipelineConfig {
  const top = fileSchema.safeParse(doc);
  if (!top.success) throw new FacestreamError('FS_ERR_CONFIG', `${where}: ${formatIssues(top.error.issues)}`);
  const elements: ElementConfig[] = top.data.elements.map((entry, i) => {
    const keys = Object.keys(entry);
    if (keys.length !== 1) {
      throw new FacestreamError('FS_ERR_CONFIG', `${where}: elements[${i}] must have exactly one key, the element name (got ${keys.join(', ') || 'none'})`);
    }
    const element = keys[0]!;
    const def = getElement(element);
    if (!def) {
      throw new FacestreamError('FS_ERR_CONFIG', `${where}: elements[${i}]: unknown element "${element}" (known: ${elementNames().join(', ')})`);
    }
    const parsed = def.options.safeParse(entry[element] ?? {});
    if (!parsed.success) {
      throw new FacestreamError('FS_ERR_CONFIG', `${where}: ${formatIssues(parsed.error.issues, ['elements', i, element])}`);
    }
    return { element, options: parsed.data as Record<string, unknown> };
  });
  if (elements[0]?.element !== 'ingest') {
    throw new FacestreamError('FS_ERR_CONFIG', `${where}: elements[0] must be "ingest" (the source of the frames)`);
  }
  // each element reads what the ones it names produced: they must come before it
  elements.forEach(({ element }, i) => {
    for (const need of getElement(element)!.after ?? []) {
      const at = elements.findIndex((e) => e.element === need);
      if (at < 0) throw new FacestreamError('FS_ERR_CONFIG', `${where}: elements[${i}] "${element}" needs "${need}" before it, and the pipeline has none`);
      if (at > i) throw new FacestreamError('FS_ERR_CONFIG', `${where}: elements[${i}] "${element}" needs "${need}" before it, but "${need}" is elements[${at}]`);
    }
  });
  // the element right after ingest turns decoded frames into faces; every later one reads those
  const readers = elementNames().filter((n) => getElement(n)!.reads === 'frames');
  if (elements.length < 2) throw new FacestreamError('FS_ERR_CONFIG', `${where}: elements[1] is missing: after ingest comes an element that reads the decoded frames (${readers.join(', ')})`);
  elements.forEach(({ element }, i) => {
    if (i === 0) return;
    const reads = getElement(element)!.reads === 'frames';
    if (!getElement(element)!.create) throw new FacestreamError('FS_ERR_CONFIG', `${where}: elements[${i}]: "${element}" can only be elements[0]`);
    if (i === 1 && !reads) throw new FacestreamError('FS_ERR_CONFIG', `${where}: elements[1] must read the decoded frames (${readers.join(', ')}); "${element}" reads faces found before it`);
    if (i > 1 && reads) throw new FacestreamError('FS_ERR_CONFIG', `${where}: elements[${i}] "${element}" reads the decoded frames: it must come right after ingest`);
  });
  return { name: top.data.name, description: top.data.description, elements };
}

/** Loads a pipeline by name (from pipelines/) or by file path. */
export function loadPipeline(nameOrFile = 'default'): PipelineConfig {
  const file = /[\\/]|\.ya?ml$/.test(nameOrFile) ? path.resolve(nameOrFile) : path.join(PIPELINES_DIR, `${nameOrFile}.yaml`);
  if (!fs.existsSync(file)) {
    const known = fs.existsSync(PIPELINES_DIR) ? fs.readdirSync(PIPELINES_DIR).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5)) : [];
    throw new FacestreamError('FS_ERR_CONFIG', `no pipeline "${nameOrFile}" (${file}); known pipelines: ${known.join(', ')}`);
  }
  let doc: unknown;
  try {
    doc = YAML.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new FacestreamError('FS_ERR_CONFIG', `${file}: invalid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  return { ...parsePipeline(doc, file), file };
}
