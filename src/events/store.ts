/**
 * Stored aggregates (SQLite, better-sqlite3): per stream and per minute, the people whose
 * track ended, their gender split, age classes, smiling share and dwell time; and, unless
 * `demographicsOnly`, one summary row per track (attributes and times only: never a face
 * image). Survives a restart; rows older than `retentionDays` are deleted. A database that
 * cannot be written (disk full, read-only, locked) is reported once; the tracks that could
 * not be written wait in memory (at most `maxPending`, the oldest dropped and counted
 * beyond) and are written with the next track or `retry()` once it is writable again.
 * The pipeline never waits on it.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { createLogger } from '../log.ts';
import { GRADES, type Grade } from '../calculators/sa.ts';
import type { SmoothedClassJson, TrackAttributesJson, TrackEnded } from './types.ts';
import { PendingTracks } from './pending.ts';

const log = createLogger('store');
export const BUCKET_MS = 60_000;
export const AGE_GROUPS = ['baby', 'child', 'youth', 'middle-aged', 'old'] as const;

/** Age class -> its column in `aggregates`. */
export const AGE_COLUMN: Record<string, string> = { baby: 'age_baby', child: 'age_child', youth: 'age_youth', 'middle-aged': 'age_middle', old: 'age_old' };

/** The answer of one SA head if its grade is `minGrade` or better, else undefined (counted as unsure). */
export function sureAnswer(c: SmoothedClassJson | undefined, minGrade: Grade = 'D'): string | undefined {
  return c && GRADES.indexOf(c.grade) <= GRADES.indexOf(minGrade) ? c.value : undefined;
}

/**
 * What one ended track writes, in both stores (SQLite here, PostgreSQL in pgstore.ts): its
 * minute bucket, the age column it counts in, the increments of the aggregates row (male,
 * female, smiling, smile known, dwell) and the values of its `tracks` row. A gender, age
 * class or smile graded below `minGrade` is not counted in the aggregates (the person is:
 * `people` minus male and female is the unsure share); the `tracks` row keeps every answer
 * with its confidence.
 */
export function trackValues(e: TrackEnded, minGrade: Grade = 'D') {
  const a = e.attributes;
  const dwell = Math.round(e.dwellMs);
  const gender = sureAnswer(a?.gender, minGrade);
  const smiling = sureAnswer(a?.smiling, minGrade);
  return {
    bucket: Math.floor(e.ts / BUCKET_MS) * BUCKET_MS,
    ageCol: AGE_COLUMN[sureAnswer(a?.ageGroup, minGrade) ?? ''],
    // a visit of a person seen before within the window is no new visitor (unknown: a new one)
    counts: [gender === 'male' ? 1 : 0, gender === 'female' ? 1 : 0, smiling === 'yes' ? 1 : 0, smiling ? 1 : 0, dwell, e.visitor?.returning ? 0 : 1],
    track: [e.stream, e.trackId, e.ts, dwell, a?.gender?.value ?? null, a?.gender?.confidence ?? null,
      a?.age ?? null, a?.ageGroup?.value ?? null, a?.smiling?.value ?? null, a ? JSON.stringify(a) : null, e.id ?? null, trackGrade(e)],
  };
}

/** The columns `trackValues().track` fills, in order (both stores; PostgreSQL adds `node`). */
export const TRACK_COLUMNS = 'stream, track_id, ended_at, dwell_ms, gender, gender_confidence, age, age_group, smiling, attributes, event_id, grade';

/** A track's grade for review: the worse of its gender's and age group's (null without either). */
export function trackGrade(e: Pick<TrackEnded, 'attributes'>): Grade | null {
  const gs = [e.attributes?.gender?.grade, e.attributes?.ageGroup?.grade].filter((g): g is Grade => !!g);
  return gs.length ? GRADES[Math.max(...gs.map((g) => GRADES.indexOf(g)))]! : null;
}

/** GET /api/tracks: the ended tracks kept (not with demographicsOnly), newest first. */
export interface TrackQuery {
  stream?: string;
  from?: number;
  to?: number;
  gender?: string;
  ageGroup?: string;
  /** This grade or better. */
  grade?: Grade;
  /** Tracks that ended before this time (the next page: the last row's endedAt). */
  before?: number;
  limit?: number;
}

export interface TrackRow {
  /** The id of the track's `track.ended` event (null for rows written before ids were kept). */
  id: string | null;
  stream: string;
  trackId: number;
  endedAt: number;
  dwellMs: number;
  grade: Grade | null;
  gender?: Pick<SmoothedClassJson, 'value' | 'grade' | 'probability'>;
  ageGroup?: Pick<SmoothedClassJson, 'value' | 'grade' | 'probability'>;
  age?: number;
  smiling?: Pick<SmoothedClassJson, 'value' | 'grade' | 'probability'>;
  /** Whether a thumbnail is kept (GET /api/tracks/ID/snapshot.jpg?stream=). */
  snapshot: boolean;
}

/** The WHERE clause and parameters of a track query, with `$n` (PostgreSQL) or `?` (SQLite) placeholders. */
export function trackWhere(q: TrackQuery, pg: boolean): { where: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown) => { params.push(v); return pg ? `$${params.length}` : '?'; };
  if (q.stream) parts.push(`stream = ${p(q.stream)}`);
  if (q.from != null) parts.push(`ended_at >= ${p(q.from)}`);
  if (q.to != null) parts.push(`ended_at < ${p(q.to)}`);
  if (q.before != null) parts.push(`ended_at < ${p(q.before)}`);
  if (q.gender) parts.push(`gender = ${p(q.gender)}`);
  if (q.ageGroup) parts.push(`age_group = ${p(q.ageGroup)}`);
  if (q.grade) parts.push(`grade IN (${GRADES.slice(0, GRADES.indexOf(q.grade) + 1).map((g) => p(g)).join(', ')})`);
  return { where: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}

export const TRACK_LIST_COLUMNS = 'event_id, stream, track_id, ended_at, dwell_ms, grade, attributes, snapshot IS NOT NULL AS has_snapshot';

/** A row of TRACK_LIST_COLUMNS (attributes as JSON text or, from PostgreSQL, an object) as a TrackRow. */
export function trackRow(r: Record<string, unknown>): TrackRow {
  let a: TrackAttributesJson | undefined;
  try { a = typeof r.attributes === 'string' ? JSON.parse(r.attributes) as TrackAttributesJson : (r.attributes as TrackAttributesJson | null) ?? undefined; } catch { a = undefined; }
  const cls = (c: SmoothedClassJson | undefined) => c && { value: c.value, grade: c.grade, probability: c.probability };
  return {
    id: (r.event_id as string | null) ?? null, stream: String(r.stream), trackId: Number(r.track_id), endedAt: Number(r.ended_at),
    dwellMs: Number(r.dwell_ms), grade: (r.grade as Grade | null) ?? null,
    ...(a?.gender ? { gender: cls(a.gender) } : {}), ...(a?.ageGroup ? { ageGroup: cls(a.ageGroup) } : {}),
    ...(a?.age != null ? { age: a.age } : {}), ...(a?.smiling ? { smiling: cls(a.smiling) } : {}),
    snapshot: !!r.has_snapshot,
  };
}

/**
 * Rollups: the aggregates per minute (`aggregates`), per hour (`aggregates_hour`) and per
 * day (`aggregates_day`, UTC days), all written with each track, so that a report over
 * months reads a few hundred rows instead of a year of minutes.
 */
const AGGREGATE_COLUMNS = `stream TEXT NOT NULL, bucket INTEGER NOT NULL, people INTEGER NOT NULL DEFAULT 0,
  male INTEGER NOT NULL DEFAULT 0, female INTEGER NOT NULL DEFAULT 0,
  age_baby INTEGER NOT NULL DEFAULT 0, age_child INTEGER NOT NULL DEFAULT 0, age_youth INTEGER NOT NULL DEFAULT 0,
  age_middle INTEGER NOT NULL DEFAULT 0, age_old INTEGER NOT NULL DEFAULT 0,
  smiling INTEGER NOT NULL DEFAULT 0, smile_known INTEGER NOT NULL DEFAULT 0, dwell_sum INTEGER NOT NULL DEFAULT 0,
  visitors INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (stream, bucket)`;

export const ROLLUPS = [
  { table: 'aggregates_day', ms: 86_400_000 },
  { table: 'aggregates_hour', ms: 3_600_000 },
  { table: 'aggregates', ms: BUCKET_MS },
] as const;

/** SQL (SQLite and PostgreSQL alike) that fills a rollup table from the minutes. */
export const fillRollupSql = (r: { table: string; ms: number }, visitors = true) => `INSERT INTO ${r.table} (stream, bucket, people, male, female, age_baby, age_child,
  age_youth, age_middle, age_old, smiling, smile_known, dwell_sum${visitors ? ', visitors' : ''}) SELECT stream, (bucket / ${r.ms}) * ${r.ms}, SUM(people), SUM(male),
  SUM(female), SUM(age_baby), SUM(age_child), SUM(age_youth), SUM(age_middle), SUM(age_old), SUM(smiling), SUM(smile_known), SUM(dwell_sum)${visitors ? ', SUM(visitors)' : ''}
  FROM aggregates GROUP BY 1, 2`;

/** Unique visitors were counted from this version on: before, every visit was one (as far as anyone knew). */
export const ADD_VISITORS_SQL = (table: string, pg: boolean) =>
  `ALTER TABLE ${table} ADD COLUMN ${pg ? 'IF NOT EXISTS ' : ''}visitors INTEGER NOT NULL DEFAULT 0; UPDATE ${table} SET visitors = people`;

/**
 * The coarsest rollup a query can read: its bucket a whole number of the rollup's periods and
 * its range whole periods (an open end counts as whole). With a bucket of a day or more
 * (reports) the range is widened to whole days (`from` down, `to` up: today is in), so that
 * a 90-day report reads days.
 */
export function rollupFor(bucketMs: number, from?: number, to?: number): { table: string; from?: number; to?: number } {
  for (const r of ROLLUPS) {
    if (bucketMs % r.ms !== 0) continue;
    const snap = bucketMs >= 86_400_000;
    const f = from == null ? undefined : snap ? Math.floor(from / r.ms) * r.ms : from;
    const t = to == null ? undefined : snap ? Math.ceil(to / r.ms) * r.ms : to;
    if ((f == null || f % r.ms === 0) && (t == null || t % r.ms === 0)) return { table: r.table, from: f, to: t };
  }
  return { table: 'aggregates', from, to };
}

/** The rows of `heatmap`, Monday first. */
export const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;

/**
 * Visits by weekday and hour of day in local time (`tzOffsetMin`: minutes east of UTC, as
 * the browser's -getTimezoneOffset()): `cells[weekday][hour]`, weekday 0 = Monday.
 */
export function heatmap(hours: ReadonlyArray<{ bucket: number; people: number }>, tzOffsetMin = 0): number[][] {
  const cells = Array.from({ length: 7 }, () => new Array<number>(24).fill(0));
  for (const h of hours) {
    const local = new Date(h.bucket + tzOffsetMin * 60_000);
    cells[(local.getUTCDay() + 6) % 7]![local.getUTCHours()]! += Number(h.people);
  }
  return cells;
}

/** The bucket width of a stats query: whole minutes, an hour by default. */
export function statsBucketMs(bucketMs?: number): number {
  return Math.max(BUCKET_MS, Math.round((bucketMs ?? 3_600_000) / BUCKET_MS) * BUCKET_MS);
}

/** One row of the stats query (columns b, people, male, ..., dwell, as numbers or numeric strings) as a StatsRow. */
export function statsRow(r: Record<string, unknown>): StatsRow {
  const n = (k: string) => Number(r[k] ?? 0);
  return {
    from: n('b'), people: n('people'), visitors: n('visitors'), male: n('male'), female: n('female'),
    ageGroups: { baby: n('baby'), child: n('child'), youth: n('youth'), 'middle-aged': n('middle'), old: n('old') },
    smiling: n('smiling'), smilingShare: n('known') ? n('smiling') / n('known') : null,
    meanDwellMs: n('people') ? Math.round(n('dwell') / n('people')) : null,
  };
}

export interface StoreOptions {
  file: string;
  retentionDays?: number;
  demographicsOnly?: boolean;
  maxPending?: number;
  /** Answers graded below this are not counted in the aggregates (default 'D': all). */
  minGrade?: Grade;
  /** How often rows past the retention are deleted. Default an hour. */
  pruneIntervalMs?: number;
}

export interface StatsRow {
  from: number;
  /** Visits: tracks that ended. */
  people: number;
  /** Unique visitors among them (a person back within reid.windowMinutes is not counted again). */
  visitors: number;
  male: number;
  female: number;
  ageGroups: Record<string, number>;
  smiling: number;
  smilingShare: number | null;
  meanDwellMs: number | null;
}

export class AggregateStore {
  private db: Database.Database;
  private failing = false;
  /** Ended tracks waiting for a writable database, with their thumbnails. */
  private readonly pending: PendingTracks;
  readonly file: string;
  constructor(private readonly opts: StoreOptions) {
    this.file = opts.file;
    this.pending = new PendingTracks(opts.maxPending ?? 10_000);
    if (opts.file !== ':memory:') fs.mkdirSync(path.dirname(opts.file), { recursive: true });
    this.db = new Database(opts.file);
    this.db.pragma('journal_mode = WAL');
    // it holds the cameras added at run time, credentials included: the operator's eyes only
    if (opts.file !== ':memory:') { try { fs.chmodSync(opts.file, 0o600); } catch { /* not ours to change */ } }
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS aggregates (${AGGREGATE_COLUMNS});
      CREATE TABLE IF NOT EXISTS tracks (
        stream TEXT NOT NULL, track_id INTEGER NOT NULL, ended_at INTEGER NOT NULL, dwell_ms INTEGER NOT NULL,
        gender TEXT, gender_confidence REAL, age REAL, age_group TEXT, smiling TEXT, attributes TEXT);
      CREATE INDEX IF NOT EXISTS tracks_stream_time ON tracks (stream, ended_at);
      CREATE TABLE IF NOT EXISTS sources (name TEXT PRIMARY KEY, config TEXT NOT NULL, added_at INTEGER NOT NULL);`);
    // the event id (review and deletion name a track by it), the grade to filter on, the thumbnail
    const have = new Set((this.db.prepare('PRAGMA table_info(tracks)').all() as Array<{ name: string }>).map((c) => c.name));
    for (const [col, type] of [['event_id', 'TEXT'], ['grade', 'TEXT'], ['snapshot', 'BLOB']]) {
      if (!have.has(col!)) this.db.exec(`ALTER TABLE tracks ADD COLUMN ${col} ${type}`);
    }
    this.db.exec('CREATE INDEX IF NOT EXISTS tracks_stream_event ON tracks (stream, event_id)');
    // unique visitors, added to the tables of an earlier version (every visit was a visitor then)
    const addVisitors = (table: string) => {
      const cols = new Set((this.db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map((c) => c.name));
      if (cols.size && !cols.has('visitors')) this.db.exec(ADD_VISITORS_SQL(table, false));
    };
    addVisitors('aggregates');
    // the rollups, filled from the minutes once when a database of an earlier version has none
    for (const r of ROLLUPS.slice(0, 2)) {
      const fresh = !this.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?`).get(r.table);
      if (!fresh) addVisitors(r.table);
      this.db.exec(`CREATE TABLE IF NOT EXISTS ${r.table} (${AGGREGATE_COLUMNS})`);
      if (fresh) {
        this.db.exec(fillRollupSql(r));
      }
    }
    this.prune();
    // retention holds on a node that runs for months, not only at start-up
    this.pruneTimer = setInterval(() => this.prune(), opts.pruneIntervalMs ?? 3_600_000);
    this.pruneTimer.unref();
  }

  private readonly pruneTimer: NodeJS.Timeout;

  /** Cameras added at run time (POST /api/sources), kept across restarts. */
  listSources(): unknown[] {
    const rows = this.db.prepare('SELECT config FROM sources ORDER BY added_at').all() as Array<{ config: string }>;
    return rows.flatMap((r) => { try { return [JSON.parse(r.config) as unknown]; } catch { return []; } });
  }

  saveSource(s: { name: string }): void {
    this.db.prepare('INSERT OR REPLACE INTO sources VALUES (?, ?, ?)').run(s.name, JSON.stringify(s), Date.now());
  }

  removeSource(name: string): void {
    this.db.prepare('DELETE FROM sources WHERE name = ?').run(name);
  }

  /** Adds one ended track (and any that waited). Returns false when the database could not be written. */
  addTrack(e: TrackEnded): boolean {
    this.pending.add(e);
    return this.retry();
  }

  /** Tracks waiting for a writable database, and tracks dropped because too many waited. */
  get unsaved(): { pending: number; dropped: number } { return this.pending.unsaved; }

  /** The thumbnail of an ended track (storage.snapshots), by its track.ended id; kept with its row. */
  addSnapshot(stream: string, id: string, jpeg: Buffer): void {
    if (this.opts.demographicsOnly) return;
    if (this.pending.holdSnapshot(stream, id, jpeg)) return;
    try {
      this.db.prepare('UPDATE tracks SET snapshot = ? WHERE stream = ? AND event_id = ?').run(jpeg, stream, id);
    } catch (err) {
      log.warn(`thumbnail of ${stream} ${id} not stored: ${(err as Error).message}`);
    }
  }

  /** Ended tracks, newest first (at most `limit`, default 100, at most 1000). */
  tracks(q: TrackQuery): TrackRow[] {
    const { where, params } = trackWhere(q, false);
    const limit = Math.min(1000, Math.max(1, q.limit ?? 100));
    const rows = this.db.prepare(`SELECT ${TRACK_LIST_COLUMNS} FROM tracks ${where} ORDER BY ended_at DESC LIMIT ${limit}`).all(...params) as Array<Record<string, unknown>>;
    return rows.map(trackRow);
  }

  /** A track's thumbnail, if one is kept. */
  snapshot(stream: string, id: string): Buffer | undefined {
    const r = this.db.prepare('SELECT snapshot FROM tracks WHERE stream = ? AND event_id = ?').get(stream, id) as { snapshot: Buffer | null } | undefined;
    return r?.snapshot ?? undefined;
  }

  /** Deletes a track's row and its thumbnail (the aggregates it was counted in stay: they hold no person). */
  deleteTrack(stream: string, id: string): boolean {
    return this.db.prepare('DELETE FROM tracks WHERE stream = ? AND event_id = ?').run(stream, id).changes > 0;
  }

  /** Writes the tracks that wait, in one transaction. */
  retry(): boolean {
    if (!this.pending.length) return true;
    const batch = this.pending.batch();
    try {
      this.db.transaction(() => { for (const e of batch) this.write(e); })();
      this.pending.done(batch, true);
      if (this.failing) { this.failing = false; log.info(`${this.file} is writable again; ${batch.length} waiting track(s) written`); }
      return true;
    } catch (err) {
      if (!this.failing) log.error(`cannot write ${this.file}: ${(err as Error).message}; ended tracks wait in memory until it is writable`);
      this.failing = true;
      this.pending.done(batch, false);
      return false;
    }
  }

  private write(e: TrackEnded): void {
    const { bucket, ageCol, counts, track } = trackValues(e, this.opts.minGrade);
    for (const r of ROLLUPS) {
      this.db.prepare(`INSERT INTO ${r.table} (stream, bucket, people, male, female, smiling, smile_known, dwell_sum, visitors${ageCol ? `, ${ageCol}` : ''})
        VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?${ageCol ? ', 1' : ''})
        ON CONFLICT (stream, bucket) DO UPDATE SET people = people + 1, male = male + excluded.male, female = female + excluded.female,
          smiling = smiling + excluded.smiling, smile_known = smile_known + excluded.smile_known, dwell_sum = dwell_sum + excluded.dwell_sum,
          visitors = visitors + excluded.visitors
          ${ageCol ? `, ${ageCol} = ${ageCol} + 1` : ''}`)
        .run(e.stream, Math.floor(bucket / r.ms) * r.ms, ...counts);
    }
    if (!this.opts.demographicsOnly) {
      this.db.prepare(`INSERT INTO tracks (${TRACK_COLUMNS}, snapshot) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(...track, this.pending.snapshotOf(e));
    }
  }

  /** Sums over [from, to) grouped by `bucketMs` (a multiple of a minute). */
  stats(q: { stream?: string; from?: number; to?: number; bucketMs?: number }): StatsRow[] {
    const bucketMs = statsBucketMs(q.bucketMs);
    const r = rollupFor(bucketMs, q.from, q.to);
    const rows = this.db.prepare(`SELECT (bucket / CAST(? AS INTEGER)) * CAST(? AS INTEGER) AS b, SUM(people) people, SUM(male) male, SUM(female) female,
        SUM(age_baby) baby, SUM(age_child) child, SUM(age_youth) youth, SUM(age_middle) middle, SUM(age_old) old,
        SUM(smiling) smiling, SUM(smile_known) known, SUM(dwell_sum) dwell, SUM(visitors) visitors
      FROM ${r.table} WHERE (? IS NULL OR stream = ?) AND bucket >= ? AND bucket < ? GROUP BY b ORDER BY b`)
      .all(bucketMs, bucketMs, q.stream ?? null, q.stream ?? null, r.from ?? 0, r.to ?? Number.MAX_SAFE_INTEGER) as Array<Record<string, unknown>>;
    return rows.map(statsRow);
  }

  /** Visits per hour of the week (UTC hours; `heatmap` shifts them to local time). */
  hourly(q: { stream?: string; from?: number; to?: number }): Array<{ bucket: number; people: number }> {
    return this.db.prepare(`SELECT bucket, SUM(people) people FROM aggregates_hour WHERE (? IS NULL OR stream = ?) AND bucket >= ? AND bucket < ? GROUP BY bucket`)
      .all(q.stream ?? null, q.stream ?? null, Math.floor((q.from ?? 0) / 3_600_000) * 3_600_000, q.to ?? Number.MAX_SAFE_INTEGER) as Array<{ bucket: number; people: number }>;
  }

  prune(now = Date.now()): void {
    if (!this.opts.retentionDays) return;
    const before = now - this.opts.retentionDays * 86_400_000;
    try {
      for (const r of ROLLUPS) this.db.prepare(`DELETE FROM ${r.table} WHERE bucket < ?`).run(Math.floor(before / r.ms) * r.ms);
      this.db.prepare('DELETE FROM tracks WHERE ended_at < ?').run(before);
    } catch (err) {
      log.warn(`pruning ${this.file} failed: ${(err as Error).message}`);
    }
  }

  close(): void {
    clearInterval(this.pruneTimer);
    this.retry();
    if (this.pending.length) log.error(`${this.pending.length} ended track(s) could not be written to ${this.file} before closing`);
    this.db.close();
  }
}
