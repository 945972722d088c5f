/**
 * Progress of anything that runs longer than a few seconds (training, evaluation,
 * benchmarks, crop caches), on stderr through cli-progress: a bar redrawn in place on a
 * terminal, and plain lines (one every `plainEveryMs`) when stderr is a file or a pipe, so
 * that a log of a 40-minute run is readable and no `\r` lands in it.
 *
 * @example
 *   const p = progress('epoch 1/16', steps, { loss: '–' });
 *   for (let i = 0; i < steps; i++) { ...; p.update(i + 1, { loss: l.toFixed(4) }); }
 *   p.stop();
 */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, fields?: Record<string, string | number>): void;
  /** Ends the bar (or prints the last plain line). */
  stop(): void;
}

export interface ProgressOptions {
  /** Plain lines when stderr is not a terminal: at most one this often. Default 10 s. */
  plainEveryMs?: number;
  /** Where it is written; default process.stderr. */
  stream?: NodeJS.WriteStream;
}

export function progress(label: string, total: number, fields: Record<string, string | number> = {}, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const extra = Object.keys(fields).map((k) => `${k} {${k}}`).join(' ');
  const bar = new cliProgress.SingleBar({
    format: `${label} [{bar}] {value}/{total} {percentage}% ${extra} {duration_formatted} eta {eta_formatted}`.replace(/\s+/g, ' ').trim(),
    barsize: 20,
    stream,
    hideCursor: false,
    clearOnComplete: false,
    etaBuffer: 50,
    fps: 5,
    noTTYOutput: true,
    notTTYSchedule: opts.plainEveryMs ?? 10_000,
    formatValue: (v, _o, type) => (type === 'value' || type === 'total' ? String(v) : String(v)),
  }, cliProgress.Presets.legacy);
  bar.start(Math.max(1, total), 0, fields);
  let stopped = false;
  return {
    update: (done, f) => { if (!stopped) bar.update(done, f); },
    stop: () => {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}

/**
 * An `onProgress(what, done, total)` callback for work in named phases (crops of
 * celeba, then utkface, ...): one bar (or series of plain lines) per phase.
 */
export function phases(prefix: string): { onProgress: (what: string, done: number, total: number) => void; stop(): void } {
  let current: { what: string; bar: Progress } | undefined;
  return {
    onProgress: (what, done, total) => {
      if (current?.what !== what) {
        current?.bar.stop();
        current = { what, bar: progress(`${prefix} ${what}`, total) };
      }
      current.bar.update(done);
    },
    stop: () => { current?.bar.stop(); current = undefined; },
  };
}
