/**
 * Alert rules (`alerts` in the config), raised and cleared as typed `alert` events (so the
 * dashboard, socket.io clients, MQTT and /api/events all see them) and counted in /metrics:
 *
 * - `inView`: people in view of a stream above `above`;
 * - `dwellMs`: one person in view longer than `above` ms (raised once per track, cleared when
 *   the track ends);
 * - `stalled`: a stream stalled or restarting (cleared when frames come again);
 * - `dropRate`: the share of decoded frames dropped over the last minute above `above`
 *   (0..1; measured once at least 10 frames were decoded in that minute).
 *
 * A rule applies to every stream, or to those named in `streams`.
 */
import { z } from 'zod';
import type { AlertEvent, FacestreamEvent, UnidentifiedEvent } from './types.ts';

export const alertRuleSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - only (1 to 64)').describe('The rule\'s name in events and metrics.'),
  when: z.enum(['inView', 'dwellMs', 'stalled', 'dropRate']).describe('inView: people in view; dwellMs: one person in view for longer (ms); stalled: a stream stalled or restarting; dropRate: share of frames dropped over the last minute (0..1).'),
  above: z.number().min(0).optional().describe('The threshold (not for `stalled`).'),
  streams: z.array(z.string().min(1).max(128)).max(1000).optional().describe('Only these streams (default: every one).'),
}).refine((r) => r.when === 'stalled' || r.above != null, { message: 'above: a threshold is needed for inView, dwellMs and dropRate', path: ['above'] });
export type AlertRule = z.infer<typeof alertRuleSchema>;

export interface AlertStream { name: string; state: string; frames: number; dropped: number }

export interface Alerts {
  /** Every event of the node's streams passes here first. */
  onEvent(e: FacestreamEvent): void;
  /** Once a second: dwell times, drop rates and recoveries. */
  tick(streams: AlertStream[], now?: number): void;
  /** Alerts raised now. */
  active(): AlertEvent[];
  readonly counts: Map<string, number>;
}

type Emit = (e: UnidentifiedEvent & { type: 'alert' }) => void;

export function createAlerts(rules: readonly AlertRule[], emit: Emit): Alerts {
  const raised = new Map<string, AlertEvent>(); // rule|stream|track -> the raising event
  const counts = new Map<string, number>(rules.map((r) => [r.name, 0]));
  const tracks = new Map<string, { stream: string; trackId: number; since: number }>(); // stream|track
  const inView = (stream: string) => { let n = 0; for (const t of tracks.values()) if (t.stream === stream) n++; return n; };
  const frames = new Map<string, Array<{ at: number; frames: number; dropped: number }>>();
  const applies = (r: AlertRule, stream: string) => !r.streams || r.streams.includes(stream);

  const alert = (r: AlertRule, stream: string, state: 'raised' | 'cleared', value: number, message: string, trackId?: number) => ({
    v: 1 as const, type: 'alert' as const, stream, ts: Date.now(), rule: r.name, when: r.when, state, value,
    ...(r.above != null ? { threshold: r.above } : {}), ...(trackId != null ? { trackId } : {}), message,
  });
  const raise = (r: AlertRule, stream: string, value: number, message: string, trackId?: number) => {
    const key = `${r.name}|${stream}|${trackId ?? ''}`;
    if (raised.has(key)) return;
    const e = alert(r, stream, 'raised', value, message, trackId);
    raised.set(key, e as AlertEvent);
    counts.set(r.name, (counts.get(r.name) ?? 0) + 1);
    emit(e);
  };
  const clear = (r: AlertRule, stream: string, value: number, trackId?: number) => {
    const key = `${r.name}|${stream}|${trackId ?? ''}`;
    const was = raised.get(key);
    if (!was) return;
    raised.delete(key);
    emit(alert(r, stream, 'cleared', value, `${was.message}: cleared`, trackId));
  };

  return {
    counts,
    active: () => [...raised.values()],
    onEvent(e) {
      if (e.type === 'alert') return;
      if (e.type === 'track.started') {
        tracks.set(`${e.stream}|${e.trackId}`, { stream: e.stream, trackId: e.trackId, since: e.ts });
      }
      if (e.type === 'track.ended') {
        tracks.delete(`${e.stream}|${e.trackId}`);
        for (const r of rules) {
          if (r.when !== 'dwellMs' || !applies(r, e.stream)) continue;
          // a stay longer than the rule that ended between two ticks is still said
          if (e.dwellMs > r.above!) raise(r, e.stream, e.dwellMs, `a person was in view of ${e.stream} for ${Math.round(e.dwellMs / 100) / 10} s (over ${Math.round(r.above! / 1000)} s; track ${e.trackId})`, e.trackId);
          clear(r, e.stream, e.dwellMs, e.trackId);
        }
      }
      if (e.type === 'track.started' || e.type === 'track.ended') {
        const n = inView(e.stream);
        for (const r of rules) {
          if (r.when !== 'inView' || !applies(r, e.stream)) continue;
          if (n > r.above!) raise(r, e.stream, n, `${n} ${n === 1 ? 'person' : 'people'} in view of ${e.stream} (more than ${r.above})`);
          else clear(r, e.stream, n);
        }
      }
      if (e.type === 'stream.stalled' || e.type === 'stream.restarting') {
        const why = e.type === 'stream.stalled' ? `no frame for ${e.afterMs} ms` : e.reason;
        for (const r of rules) if (r.when === 'stalled' && applies(r, e.stream)) raise(r, e.stream, 1, `${e.stream} is down: ${why}`);
      }
      if (e.type === 'stream.ended') {
        // the stream is gone: what was raised for it is over
        for (const a of [...raised.values()]) {
          if (a.stream === e.stream) clear(rules.find((x) => x.name === a.rule)!, a.stream, 0, a.trackId);
        }
        frames.delete(e.stream);
        for (const k of [...tracks.keys()]) if (k.startsWith(`${e.stream}|`)) tracks.delete(k);
      }
    },
    tick(streams, now = Date.now()) {
      for (const t of tracks.values()) {
        for (const r of rules) {
          if (r.when === 'dwellMs' && applies(r, t.stream) && now - t.since > r.above!) {
            raise(r, t.stream, now - t.since, `a person has been in view of ${t.stream} for over ${Math.round(r.above! / 1000)} s (track ${t.trackId})`, t.trackId);
          }
        }
      }
      for (const s of streams) {
        if (s.state === 'live') for (const r of rules) if (r.when === 'stalled') clear(r, s.name, 0);
        const w = frames.get(s.name) ?? [];
        w.push({ at: now, frames: s.frames, dropped: s.dropped });
        while (w.length > 1 && now - w[0]!.at > 60_000) w.shift();
        frames.set(s.name, w);
        const decoded = s.frames - w[0]!.frames;
        if (decoded < 10) continue;
        const rate = (s.dropped - w[0]!.dropped) / decoded;
        for (const r of rules) {
          if (r.when !== 'dropRate' || !applies(r, s.name)) continue;
          if (rate > r.above!) raise(r, s.name, rate, `${s.name} drops ${Math.round(rate * 100)}% of its frames (more than ${Math.round(r.above! * 100)}%): the analysis is behind the camera`);
          else clear(r, s.name, rate);
        }
      }
    },
  };
}
