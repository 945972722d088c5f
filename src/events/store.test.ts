import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { AggregateStore, heatmap, rollupFor } from './store.ts';
import type { TrackEnded } from './types.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-store-'));
const cls = (value: string) => ({ value, probability: 0.9, confidence: 0.9, grade: 'S' as const, frames: 5 });
const ended = (ts: number, id: number, gender: string, smiling: string, ageGroup: string, dwellMs = 4000): TrackEnded => ({
  id: `${ts}-${id}`, v: 1, stream: 'live/door', ts, type: 'track.ended', trackId: id, ptsMs: 0, firstSeenMs: 0, lastSeenMs: dwellMs, dwellMs, frames: 10, flags: [],
  attributes: { gender: cls(gender), smiling: cls(smiling), ageGroup: cls(ageGroup), age: 30, celeba: {} },
});

describe('aggregate store', () => {
  it('aggregates ended tracks per bucket and keeps them across a restart', () => {
    const file = path.join(tmp, 'a.db');
    const t0 = Date.UTC(2026, 10, 29, 10, 0, 0);
    let s = new AggregateStore({ file });
    s.addTrack(ended(t0 + 1000, 1, 'female', 'yes', 'youth', 2000));
    s.addTrack(ended(t0 + 2000, 2, 'male', 'no', 'middle-aged', 6000));
    s.addTrack(ended(t0 + 61_000, 3, 'female', 'yes', 'youth'));
    s.close();
    s = new AggregateStore({ file });
    const hourly = s.stats({ stream: 'live/door', bucketMs: 3_600_000 });
    expect(hourly).toHaveLength(1);
    expect(hourly[0]).toMatchObject({ people: 3, male: 1, female: 2, smiling: 2, meanDwellMs: 4000 });
    expect(hourly[0]!.ageGroups).toMatchObject({ youth: 2, 'middle-aged': 1 });
    expect(hourly[0]!.smilingShare).toBeCloseTo(2 / 3);
    expect(s.stats({ stream: 'live/door', bucketMs: 60_000 }).map((r) => r.people)).toEqual([2, 1]);
    expect(s.stats({ stream: 'live/door', from: t0 + 60_000 })[0]!.people).toBe(1);
    expect(s.stats({ stream: 'other' })).toEqual([]);
    s.close();
  });

  it('answers graded below minGrade count the person but not the split; the track row keeps them', () => {
    const s = new AggregateStore({ file: ':memory:', minGrade: 'B' });
    const t = Date.now();
    const unsure = ended(t, 2, 'female', 'yes', 'baby');
    unsure.attributes!.gender = { ...unsure.attributes!.gender!, confidence: 0.3, grade: 'C' };
    unsure.attributes!.ageGroup = { ...unsure.attributes!.ageGroup!, confidence: 0.1, grade: 'D' };
    const onlyB = ended(t, 3, 'male', 'no', 'old');
    onlyB.attributes!.smiling = { ...onlyB.attributes!.smiling!, confidence: 0.5, grade: 'B' };
    s.addTrack(ended(t, 1, 'male', 'no', 'youth'));
    s.addTrack(unsure);
    s.addTrack(onlyB);
    const [r] = s.stats({});
    expect(r).toMatchObject({ people: 3, male: 2, female: 0, smiling: 1 });
    expect(r!.ageGroups).toMatchObject({ youth: 1, baby: 0, old: 1 });
    expect(r!.smilingShare).toBeCloseTo(1 / 3); // the unsure track's smile (grade S) still counts
    const db = (s as unknown as { db: { prepare: (sql: string) => { all: () => unknown[] } } }).db;
    expect(db.prepare('SELECT gender, gender_confidence, age_group FROM tracks ORDER BY track_id').all()[1]).toEqual({ gender: 'female', gender_confidence: 0.3, age_group: 'baby' });
    s.close();
    // minGrade S: the B smile is left out too; D (the default) counts every answer
    const strict = new AggregateStore({ file: ':memory:', minGrade: 'S' });
    strict.addTrack(onlyB);
    expect(strict.stats({})[0]).toMatchObject({ people: 1, male: 1, smilingShare: null });
    strict.close();
    const all = new AggregateStore({ file: ':memory:' });
    all.addTrack(unsure);
    expect(all.stats({})[0]).toMatchObject({ people: 1, female: 1, ageGroups: { baby: 1 } });
    all.close();
  });

  it('retention deletes old rows; demographics-only stores no per-track row', () => {
    const file = path.join(tmp, 'b.db');
    const s = new AggregateStore({ file, retentionDays: 1, demographicsOnly: true });
    s.addTrack(ended(Date.now() - 3 * 86_400_000, 1, 'male', 'no', 'old'));
    s.addTrack(ended(Date.now(), 2, 'male', 'no', 'old'));
    s.prune();
    expect(s.stats({}).reduce((n, r) => n + r.people, 0)).toBe(1);
    s.close();
  });

  it('a read-only database is reported and the caller goes on', () => {
    const file = path.join(tmp, 'c.db');
    new AggregateStore({ file }).close();
    fs.chmodSync(file, 0o444);
    const ro = new AggregateStore({ file });
    if (process.getuid?.() === 0) { ro.close(); return; } // root writes read-only files anyway
    expect(ro.addTrack(ended(Date.now(), 1, 'male', 'no', 'old'))).toBe(false);
    ro.close();
  });

  it('a database that cannot be written (disk full) loses no track: they wait and are written once it can be', () => {
    const s = new AggregateStore({ file: path.join(tmp, 'full.db'), maxPending: 3 });
    const db = (s as unknown as { db: { prepare: (sql: string) => unknown } }).db;
    const prepare = db.prepare.bind(db);
    let full = true;
    db.prepare = (sql: string) => {
      if (full && sql.startsWith('INSERT')) throw new Error('SQLITE_FULL: database or disk is full');
      return prepare(sql);
    };
    const t = Date.now();
    expect(s.addTrack(ended(t, 1, 'male', 'no', 'old'))).toBe(false);
    expect(s.addTrack(ended(t, 2, 'female', 'yes', 'youth'))).toBe(false);
    expect(s.unsaved).toEqual({ pending: 2, dropped: 0 });
    expect(s.stats({}).reduce((n, r) => n + r.people, 0)).toBe(0);
    full = false;
    expect(s.retry()).toBe(true);
    expect(s.unsaved.pending).toBe(0);
    const rows = s.stats({});
    expect(rows.reduce((n, r) => n + r.people, 0)).toBe(2);
    expect(rows.reduce((n, r) => n + r.female, 0)).toBe(1);
    // past maxPending the oldest are dropped, and counted
    full = true;
    for (let i = 0; i < 5; i++) s.addTrack(ended(t, 10 + i, 'male', 'no', 'old'));
    expect(s.unsaved).toEqual({ pending: 3, dropped: 2 });
    full = false;
    s.close(); // writes what waits
    const again = new AggregateStore({ file: path.join(tmp, 'full.db') });
    expect(again.stats({}).reduce((n, r) => n + r.people, 0)).toBe(5);
    again.close();
  });
});

describe('rollups and the heatmap', () => {
  it('a report by day reads the day rollup and says what the minutes say; a database of an earlier version is filled', () => {
    const file = path.join(tmp, 'roll.db');
    const day0 = Date.UTC(2026, 10, 2); // a Monday
    const s = new AggregateStore({ file, retentionDays: 3650 });
    let id = 0;
    for (let d = 0; d < 10; d++) for (let h = 0; h < 24; h += 5) s.addTrack(ended(day0 + d * 86_400_000 + h * 3_600_000 + 17 * 60_000, ++id, d % 2 ? 'male' : 'female', 'yes', 'youth', 1000 * (h + 1)));
    expect(rollupFor(86_400_000, day0 + 5000, day0 + 3 * 86_400_000 + 5000)).toEqual({ table: 'aggregates_day', from: day0, to: day0 + 4 * 86_400_000 });
    expect(rollupFor(3_600_000, day0, undefined).table).toBe('aggregates_hour');
    expect(rollupFor(3_600_000, day0 + 60_000, undefined).table).toBe('aggregates'); // a range that is not whole hours
    const byDay = s.stats({ bucketMs: 86_400_000, from: day0 });
    expect(byDay).toHaveLength(10);
    expect(byDay.map((r) => r.people)).toEqual(new Array(10).fill(5));
    // the same sums from the minutes: the rollups hold the same counts
    const byMinute = s.stats({ bucketMs: 60_000 });
    expect(byMinute.reduce((n, r) => n + r.people, 0)).toBe(50);
    expect(byDay.reduce((n, r) => n + r.female, 0)).toBe(byMinute.reduce((n, r) => n + r.female, 0));
    expect(byDay[1]!.meanDwellMs).toBe(byMinute.filter((r) => r.from >= day0 + 86_400_000 && r.from < day0 + 2 * 86_400_000).reduce((n, r) => n + r.meanDwellMs! * r.people, 0) / 5);
    // Monday 00:17 UTC is Monday 01:17 at UTC+1
    const cells = heatmap(s.hourly({ from: day0, to: day0 + 86_400_000 }), 60);
    expect(cells[0]![1]).toBe(1);
    expect(cells.flat().reduce((a, b) => a + b, 0)).toBe(5);
    s.close();

    // a database with minutes only (an earlier version): the rollups are filled on opening
    const old = new Database(file);
    old.exec('DROP TABLE aggregates_day; DROP TABLE aggregates_hour');
    old.close();
    const again = new AggregateStore({ file, retentionDays: 3650 });
    expect(again.stats({ bucketMs: 86_400_000, from: day0 }).map((r) => r.people)).toEqual(new Array(10).fill(5));
    again.close();
  });

  it('review rows: filters, the thumbnail kept with its row, deleted with it; an older database gains the columns', () => {
    const file = path.join(tmp, 'review.db');
    // a database of the previous version: tracks without event id, grade and thumbnail
    const old = new Database(file);
    old.exec(`CREATE TABLE tracks (stream TEXT NOT NULL, track_id INTEGER NOT NULL, ended_at INTEGER NOT NULL, dwell_ms INTEGER NOT NULL,
      gender TEXT, gender_confidence REAL, age REAL, age_group TEXT, smiling TEXT, attributes TEXT);
      INSERT INTO tracks VALUES ('live/door', 7, 1000, 500, 'male', 0.9, 40, 'middle-aged', 'no', NULL);`);
    old.close();
    const s = new AggregateStore({ file });
    const t = Date.now();
    const unsure = ended(t - 3000, 2, 'male', 'no', 'old');
    unsure.attributes!.ageGroup!.grade = 'C';
    s.addTrack(ended(t - 4000, 1, 'female', 'yes', 'youth'));
    s.addTrack(unsure);
    s.addSnapshot('live/door', unsure.id, Buffer.from([0xff, 0xd8, 1, 2, 3]));
    s.addTrack(ended(t - 2000, 3, 'female', 'no', 'child'));
    expect(s.tracks({}).map((r) => r.trackId)).toEqual([3, 2, 1, 7]); // newest first, the old row too
    expect(s.tracks({ gender: 'female' }).map((r) => r.trackId)).toEqual([3, 1]);
    expect(s.tracks({ ageGroup: 'old' }).map((r) => r.trackId)).toEqual([2]);
    expect(s.tracks({ grade: 'S' }).map((r) => r.trackId)).toEqual([3, 1]); // the worse of gender (S) and age (C)
    expect(s.tracks({ grade: 'C' }).map((r) => r.trackId)).toEqual([3, 2, 1]);
    expect(s.tracks({ from: t - 3500 }).map((r) => r.trackId)).toEqual([3, 2]);
    expect(s.tracks({ before: t - 2000, limit: 1 }).map((r) => r.trackId)).toEqual([2]);
    const row = s.tracks({ ageGroup: 'old' })[0]!;
    expect(row).toMatchObject({ id: unsure.id, stream: 'live/door', grade: 'C', snapshot: true, gender: { value: 'male', grade: 'S' }, age: 30 });
    expect(s.tracks({ gender: 'female' }).every((r) => !r.snapshot)).toBe(true);
    expect(s.snapshot('live/door', unsure.id)).toEqual(Buffer.from([0xff, 0xd8, 1, 2, 3]));
    expect(s.deleteTrack('live/door', unsure.id)).toBe(true);
    expect(s.snapshot('live/door', unsure.id)).toBeUndefined();
    expect(s.deleteTrack('live/door', unsure.id)).toBe(false);
    // the aggregates it counted in stay
    expect(s.stats({ stream: 'live/door', from: t - 600_000, bucketMs: 3_600_000 }).reduce((n, r) => n + r.people, 0)).toBe(3);
    s.close();
  });

  it('a thumbnail of a track that waits for a locked database is written with it', () => {
    const file = path.join(tmp, 'locked.db');
    const s = new AggregateStore({ file });
    const lock = new Database(file);
    lock.exec('BEGIN EXCLUSIVE');
    const e = ended(Date.now(), 9, 'female', 'yes', 'youth');
    expect(s.addTrack(e)).toBe(false);
    s.addSnapshot('live/door', e.id, Buffer.from([0xff, 0xd8, 9]));
    lock.exec('ROLLBACK');
    lock.close();
    expect(s.retry()).toBe(true);
    expect(s.snapshot('live/door', e.id)).toEqual(Buffer.from([0xff, 0xd8, 9]));
    s.close();
  });

  it('unique visitors: a returning visit counts as a visit, not a visitor; an older database counts its visits as visitors', () => {
    const file = path.join(tmp, 'visitors.db');
    const old = new Database(file);
    old.exec(`CREATE TABLE aggregates (stream TEXT NOT NULL, bucket INTEGER NOT NULL, people INTEGER NOT NULL DEFAULT 0,
      male INTEGER NOT NULL DEFAULT 0, female INTEGER NOT NULL DEFAULT 0, age_baby INTEGER NOT NULL DEFAULT 0, age_child INTEGER NOT NULL DEFAULT 0,
      age_youth INTEGER NOT NULL DEFAULT 0, age_middle INTEGER NOT NULL DEFAULT 0, age_old INTEGER NOT NULL DEFAULT 0,
      smiling INTEGER NOT NULL DEFAULT 0, smile_known INTEGER NOT NULL DEFAULT 0, dwell_sum INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (stream, bucket));
      INSERT INTO aggregates (stream, bucket, people) VALUES ('live/door', 0, 5);`);
    old.close();
    const s = new AggregateStore({ file });
    expect(s.stats({ stream: 'live/door', from: 0, to: 60_000, bucketMs: 60_000 })[0]).toMatchObject({ people: 5, visitors: 5 });
    // the rollups made from those minutes have them too
    expect(s.stats({ stream: 'live/door', from: 0, to: 86_400_000, bucketMs: 86_400_000 })[0]).toMatchObject({ people: 5, visitors: 5 });
    const t = Date.now();
    const first = ended(t - 2000, 1, 'female', 'yes', 'youth');
    first.visitor = { id: 'v-00000001', returning: false };
    const again = ended(t - 1000, 2, 'female', 'yes', 'youth');
    again.visitor = { id: 'v-00000001', returning: true };
    const unknown = ended(t, 3, 'male', 'no', 'old'); // no face to compare: a visitor
    for (const e of [first, again, unknown]) s.addTrack(e);
    const row = s.stats({ stream: 'live/door', from: t - 600_000, bucketMs: 3_600_000 }).reduce((a, r) => ({ people: a.people + r.people, visitors: a.visitors + r.visitors }), { people: 0, visitors: 0 });
    expect(row).toEqual({ people: 3, visitors: 2 });
    s.close();
  });
});
