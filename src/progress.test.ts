import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { phases, progress } from './progress.ts';

function sink(): { stream: NodeJS.WriteStream; text: () => string } {
  const s = new PassThrough();
  let out = '';
  s.on('data', (d: Buffer) => { out += d.toString(); });
  return { stream: Object.assign(s, { isTTY: false }) as unknown as NodeJS.WriteStream, text: () => out };
}

describe('progress', () => {
  it('prints plain lines, no carriage return, when the stream is not a terminal, and the last state at stop', async () => {
    const { stream, text } = sink();
    const p = progress('epoch 1/2', 40, { loss: '-' }, { stream, plainEveryMs: 50 });
    for (let i = 1; i <= 40; i++) {
      p.update(i, { loss: (1 / i).toFixed(3) });
      await new Promise((r) => setTimeout(r, 5));
    }
    p.stop();
    await new Promise((r) => setImmediate(r));
    const lines = text().split('\n').filter(Boolean);
    expect(text()).not.toContain('\r');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.at(-1)).toMatch(/^epoch 1\/2 \[=+\] 40\/40 100% loss 0\.025/);
  });

  it('phases start one bar per phase', async () => {
    const seen: string[] = [];
    const ph = phases('crops');
    // the phases' bars write to stderr; only their sequence is checked here
    const orig = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => { seen.push(String(chunk)); return true; }) as typeof process.stderr.write;
    try {
      ph.onProgress('celeba', 10, 10);
      ph.onProgress('utkface', 5, 10);
      ph.stop();
    } finally {
      process.stderr.write = orig;
    }
    const text = seen.join('');
    expect(text).toContain('crops celeba');
    expect(text).toContain('crops utkface');
  });
});
