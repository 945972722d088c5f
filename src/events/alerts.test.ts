import { describe, expect, it } from 'vitest';
import { alertRuleSchema, createAlerts, type AlertRule } from './alerts.ts';
import type { FacestreamEvent } from './types.ts';

const base = (stream: string, ts: number) => ({ id: `${ts}-0`, v: 1 as const, stream, ts });
const started = (stream: string, trackId: number, ts: number) => ({ ...base(stream, ts), type: 'track.started', trackId, ptsMs: 0, box: { x: 0, y: 0, width: 1, height: 1 }, landmarks: [], score: 1 }) as FacestreamEvent;
const ended = (stream: string, trackId: number, ts: number, dwellMs = 1000) => ({ ...base(stream, ts), type: 'track.ended', trackId, ptsMs: 0, firstSeenMs: 0, lastSeenMs: dwellMs, dwellMs, frames: 3, flags: [] }) as FacestreamEvent;

function run(rules: AlertRule[]) {
  const out: Array<{ rule: string; state: string; stream: string; value: number; trackId?: number; message: string }> = [];
  const alerts = createAlerts(rules.map((r) => alertRuleSchema.parse(r)), (e) => out.push(e));
  return { alerts, out };
}

describe('alert rules', () => {
  it('inView: raised once above the threshold, cleared at or below it, per stream', () => {
    const { alerts, out } = run([{ name: 'crowd', when: 'inView', above: 1 }]);
    alerts.onEvent(started('door', 1, 1));
    alerts.onEvent(started('gate', 1, 1));
    alerts.onEvent(started('door', 2, 2));
    alerts.onEvent(started('door', 3, 3));
    alerts.onEvent(ended('door', 3, 4));
    alerts.onEvent(ended('door', 2, 5));
    expect(out.map((a) => `${a.stream} ${a.state} ${a.value}`)).toEqual(['door raised 2', 'door cleared 1']);
    expect(alerts.counts.get('crowd')).toBe(1);
    expect(alerts.active()).toHaveLength(0);
  });

  it('dwellMs: one alert per person in view too long, cleared when they leave; only the streams named', () => {
    const { alerts, out } = run([{ name: 'lingering', when: 'dwellMs', above: 60_000, streams: ['door'] }]);
    alerts.onEvent(started('door', 7, 1000));
    alerts.onEvent(started('gate', 8, 1000));
    alerts.tick([], 30_000);
    expect(out).toHaveLength(0);
    alerts.tick([], 62_000);
    alerts.tick([], 63_000);
    expect(out).toMatchObject([{ rule: 'lingering', stream: 'door', state: 'raised', trackId: 7 }]);
    expect(out[0]!.message).toContain('over 60 s');
    alerts.onEvent(ended('door', 7, 70_000, 69_000));
    expect(out.map((a) => a.state)).toEqual(['raised', 'cleared']);
  });

  it('stalled: raised when a stream stalls or restarts, cleared when it is live again or ends', () => {
    const { alerts, out } = run([{ name: 'down', when: 'stalled' }]);
    alerts.onEvent({ ...base('cam', 1), type: 'stream.stalled', afterMs: 5000 } as FacestreamEvent);
    alerts.onEvent({ ...base('cam', 2), type: 'stream.restarting', attempt: 1, delayMs: 500, reason: 'x' } as FacestreamEvent);
    alerts.tick([{ name: 'cam', state: 'restarting', frames: 10, dropped: 0 }], 3);
    alerts.tick([{ name: 'cam', state: 'live', frames: 11, dropped: 0 }], 4);
    expect(out.map((a) => a.state)).toEqual(['raised', 'cleared']);
    expect(out[0]!.message).toContain('no frame for 5000 ms');
  });

  it('dropRate: the share of frames dropped over the last minute', () => {
    const { alerts, out } = run([{ name: 'behind', when: 'dropRate', above: 0.2 }]);
    alerts.tick([{ name: 'cam', state: 'live', frames: 0, dropped: 0 }], 0);
    alerts.tick([{ name: 'cam', state: 'live', frames: 5, dropped: 4 }], 1000); // under 10 frames: not yet measured
    expect(out).toHaveLength(0);
    alerts.tick([{ name: 'cam', state: 'live', frames: 100, dropped: 40 }], 2000);
    expect(out).toMatchObject([{ state: 'raised', value: 0.4 }]);
    // a minute later the window holds only recent frames, none dropped
    alerts.tick([{ name: 'cam', state: 'live', frames: 200, dropped: 40 }], 61_500);
    alerts.tick([{ name: 'cam', state: 'live', frames: 300, dropped: 40 }], 70_000);
    expect(out.map((a) => a.state)).toEqual(['raised', 'cleared']);
  });

  it('a rule without its threshold is a config error that says so', () => {
    const r = alertRuleSchema.safeParse({ name: 'x', when: 'inView' });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error!.issues)).toContain('a threshold is needed');
  });
});
