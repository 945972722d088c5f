// The layout's rules, checked on the sources: no import cycle between the product's
// folders (a frame's walk goes forward only), and the product never imports the lab.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../src/data.ts';

function sources(dir: string): string[] {
  return fs.readdirSync(path.join(PROJECT_ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith('.test.ts'))
    .map((f) => path.join(dir, f));
}

/** Relative imports of a file, as paths from the project root. */
function imports(file: string): string[] {
  const text = fs.readFileSync(path.join(PROJECT_ROOT, file), 'utf8');
  return [...text.matchAll(/(?:from|import\()\s*'(\.{1,2}\/[^']+)'/g)].map((m) => path.normalize(path.join(path.dirname(file), m[1]!)));
}

/** src/FOLDER for a file in a folder of src/, the file itself for src/*.ts, `plugins` for the plugin. */
const unit = (f: string) => (f.startsWith('plugins/') ? 'plugins' : f.split('/').length > 2 ? f.split('/').slice(0, 2).join('/') : f);

describe('layout', () => {
  const product = [...sources('src'), ...sources('plugins'), ...sources('dashboard')];

  it('the product registers no kernel or gradient: the training kernels live in lab/kernels', () => {
    const offenders = product.filter((f) => /\b(registerKernel|registerGradient)\s*\(/.test(fs.readFileSync(path.join(PROJECT_ROOT, f), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('no product file imports the lab', () => {
    const offenders = product.flatMap((f) => imports(f).filter((t) => t.startsWith('lab/')).map((t) => `${f} -> ${t}`));
    expect(offenders).toEqual([]);
  });

  it('no import cycle between the product\'s folders', () => {
    const graph = new Map<string, Set<string>>();
    for (const f of product) {
      for (const t of imports(f)) {
        if (!(t.startsWith('src/') || t.startsWith('plugins/'))) continue;
        const [a, b] = [unit(f), unit(t)];
        if (a !== b) (graph.get(a) ?? graph.set(a, new Set()).get(a)!).add(b);
      }
    }
    // depth-first search for a back edge
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (v: string, trail: string[]) => {
      state.set(v, 'open');
      for (const w of graph.get(v) ?? []) {
        if (state.get(w) === 'open') cycles.push([...trail, v, w].slice(trail.indexOf(w) >= 0 ? trail.indexOf(w) : 0).join(' -> '));
        else if (!state.has(w)) visit(w, [...trail, v]);
      }
      state.set(v, 'done');
    };
    for (const v of graph.keys()) if (!state.has(v)) visit(v, []);
    expect(cycles).toEqual([]);
    expect(graph.size).toBeGreaterThan(8); // the check saw the folders
  });
});
