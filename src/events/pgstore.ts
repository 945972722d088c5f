/**
 * The aggregate store on PostgreSQL (`storage.kind: postgres`), shared by every node: the
 * same schema and queries as the SQLite store (store.ts), created by migrations at start-up
 * (table `facestream_migrations`). Writes are batched: ended tracks wait in memory and are
 * written in one transaction every second (or at 100); a lost connection keeps them
 * waiting (at most `maxPending`, the oldest dropped and counted) until it is back, so
 * restarting PostgreSQL loses no aggregate. Rows older than `retentionDays` are deleted
 * (checked hourly). The pipeline never waits on it.
 */
import pg from 'pg';
import { createLogger } from '../log.ts';
import type { Grade } from '../calculators/sa.ts';
import { ADD_VISITORS_SQL, ROLLUPS, TRACK_COLUMNS, TRACK_LIST_COLUMNS, fillRollupSql, rollupFor, statsBucketMs, statsRow, trackRow, trackValues, trackWhere, type StatsRow, type TrackQuery, type TrackRow } from './store.ts';
import type { TrackEnded } from './types.ts';
import { PendingTracks } from './pending.ts';

const log = createLogger('pgstore');

const MIGRATIONS = [
  `CREATE TABLE IF NOT EXISTS aggregates (
    stream TEXT NOT NULL, bucket BIGINT NOT NULL, people INTEGER NOT NULL DEFAULT 0,
    male INTEGER NOT NULL DEFAULT 0, female INTEGER NOT NULL DEFAULT 0,
    age_baby INTEGER NOT NULL DEFAULT 0, age_child INTEGER NOT NULL DEFAULT 0, age_youth INTEGER NOT NULL DEFAULT 0,
    age_middle INTEGER NOT NULL DEFAULT 0, age_old INTEGER NOT NULL DEFAULT 0,
    smiling INTEGER NOT NULL DEFAULT 0, smile_known INTEGER NOT NULL DEFAULT 0, dwell_sum BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (stream, bucket));
  CREATE TABLE IF NOT EXISTS tracks (
    stream TEXT NOT NULL, track_id INTEGER NOT NULL, ended_at BIGINT NOT NULL, dwell_ms BIGINT NOT NULL,
    gender TEXT, gender_confidence REAL, age REAL, age_group TEXT, smiling TEXT, attributes JSONB, node TEXT);
  CREATE INDEX IF NOT EXISTS tracks_stream_time ON tracks (stream, ended_at);`,
  // cameras added at run time, per node (set node.id so that a restarted node finds its own)
  `CREATE TABLE IF NOT EXISTS sources (node TEXT NOT NULL, name TEXT NOT NULL, config JSONB NOT NULL, added_at BIGINT NOT NULL,
    PRIMARY KEY (node, name));`,
  // rollups per hour and day (UTC), filled from the minutes
  ...ROLLUPS.slice(0, 2).map((r) => `CREATE TABLE IF NOT EXISTS ${r.table} (LIKE aggregates INCLUDING ALL); ${fillRollupSql(r, false)};`),
  // the event id (review and deletion name a track by it), the grade to filter on, the thumbnail
  `ALTER TABLE tracks ADD COLUMN IF NOT EXISTS event_id TEXT, ADD COLUMN IF NOT EXISTS grade TEXT, ADD COLUMN IF NOT EXISTS snapshot BYTEA;
  CREATE INDEX IF NOT EXISTS tracks_stream_event ON tracks (stream, event_id);`,
  // unique visitors (reid)
  ROLLUPS.map((r) => ADD_VISITORS_SQL(r.table, true)).join('; '),
];

export interface PgStoreOptions { url: string; node: string; retentionDays?: number; demographicsOnly?: boolean; maxPending?: number; minGrade?: Grade }

export class PgStore {
  private readonly pool: pg.Pool;
  /** Ended tracks waiting for PostgreSQL, with their thumbnails. */
  private readonly pending: PendingTracks;
  private failing = false;
  private writing: Promise<boolean> | undefined;
  private readonly timer: NodeJS.Timeout;

  private constructor(private readonly opts: PgStoreOptions) {
    this.pending = new PendingTracks(opts.maxPending ?? 100_000);
    this.pool = new pg.Pool({ connectionString: opts.url, max: 4, connectionTimeoutMillis: 3000 });
    this.pool.on('error', () => { /* a dropped idle client; the next query reconnects */ });
    this.timer = setInterval(() => { void this.retry(); void this.prune(); }, 1000);
    this.timer.unref();
  }

  /** Connects and migrates; a database that cannot be reached at start-up is an error. */
  static async open(opts: PgStoreOptions): Promise<PgStore> {
    const s = new PgStore(opts);
    try {
      const c = await s.pool.connect();
      try {
        // nodes started together against a fresh database migrate one after the other
        await c.query("SELECT pg_advisory_lock(hashtext('facestream_migrations'))");
        await c.query('CREATE TABLE IF NOT EXISTS facestream_migrations (version INTEGER PRIMARY KEY, at BIGINT NOT NULL)');
        const done = new Set((await c.query<{ version: number }>('SELECT version FROM facestream_migrations')).rows.map((r) => r.version));
        for (const [i, sql] of MIGRATIONS.entries()) {
          if (done.has(i + 1)) continue;
          await c.query('BEGIN');
          await c.query(sql);
          await c.query('INSERT INTO facestream_migrations VALUES ($1, $2) ON CONFLICT DO NOTHING', [i + 1, Date.now()]);
          await c.query('COMMIT');
        }
      } finally {
        await c.query('ROLLBACK').catch(() => {}); // a failed migration's transaction, if any
        await c.query("SELECT pg_advisory_unlock(hashtext('facestream_migrations'))").catch(() => {});
        c.release();
      }
    } catch (err) {
      clearInterval(s.timer);
      await s.pool.end().catch(() => {});
      throw new Error(`PostgreSQL ${opts.url.replace(/\/\/[^@]*@/, '//')}: ${(err as Error).message}`);
    }
    return s;
  }

  addTrack(e: TrackEnded): void {
    this.pending.add(e);
    if (this.pending.length >= 100) void this.retry();
  }

  /** Tracks waiting for PostgreSQL, and tracks dropped because too many waited. */
  get unsaved(): { pending: number; dropped: number } { return this.pending.unsaved; }

  /** The thumbnail of an ended track (storage.snapshots), by its track.ended id; kept with its row. */
  addSnapshot(stream: string, id: string, jpeg: Buffer): void {
    if (this.opts.demographicsOnly) return;
    if (this.pending.holdSnapshot(stream, id, jpeg)) return;
    this.pool.query('UPDATE tracks SET snapshot = $1 WHERE stream = $2 AND event_id = $3', [jpeg, stream, id])
      .catch((err: Error) => log.warn(`thumbnail of ${stream} ${id} not stored: ${err.message}`));
  }

  async tracks(q: TrackQuery): Promise<TrackRow[]> {
    const { where, params } = trackWhere(q, true);
    const limit = Math.min(1000, Math.max(1, q.limit ?? 100));
    const { rows } = await this.pool.query<Record<string, unknown>>(`SELECT ${TRACK_LIST_COLUMNS} FROM tracks ${where} ORDER BY ended_at DESC LIMIT ${limit}`, params);
    return rows.map(trackRow);
  }

  async snapshot(stream: string, id: string): Promise<Buffer | undefined> {
    const { rows } = await this.pool.query<{ snapshot: Buffer | null }>('SELECT snapshot FROM tracks WHERE stream = $1 AND event_id = $2 LIMIT 1', [stream, id]);
    return rows[0]?.snapshot ?? undefined;
  }

  async deleteTrack(stream: string, id: string): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM tracks WHERE stream = $1 AND event_id = $2', [stream, id])).rowCount ?? 0) > 0;
  }

  /** Writes what waits, in one transaction. */
  retry(): Promise<boolean> {
    this.writing ??= this.write().finally(() => { this.writing = undefined; });
    return this.writing;
  }

  private async write(): Promise<boolean> {
    if (!this.pending.length) return true;
    const batch = this.pending.batch();
    let c: pg.PoolClient | undefined;
    try {
      c = await this.pool.connect();
      await c.query('BEGIN');
      for (const e of batch) {
        const { bucket, ageCol, counts, track } = trackValues(e, this.opts.minGrade);
        for (const r of ROLLUPS) {
          await c.query(`INSERT INTO ${r.table} AS a (stream, bucket, people, male, female, smiling, smile_known, dwell_sum, visitors${ageCol ? `, ${ageCol}` : ''})
            VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8${ageCol ? ', 1' : ''})
            ON CONFLICT (stream, bucket) DO UPDATE SET people = a.people + 1, male = a.male + excluded.male,
              female = a.female + excluded.female, smiling = a.smiling + excluded.smiling,
              smile_known = a.smile_known + excluded.smile_known, dwell_sum = a.dwell_sum + excluded.dwell_sum,
              visitors = a.visitors + excluded.visitors
              ${ageCol ? `, ${ageCol} = a.${ageCol} + 1` : ''}`,
          [e.stream, Math.floor(bucket / r.ms) * r.ms, ...counts]);
        }
        if (!this.opts.demographicsOnly) {
          await c.query(`INSERT INTO tracks (${TRACK_COLUMNS}, node, snapshot) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
            [...track, this.opts.node, this.pending.snapshotOf(e)]);
        }
      }
      await c.query('COMMIT');
      // by identity, not count: old tracks may have been dropped while the batch was written
      this.pending.done(batch, true);
      if (this.failing) { this.failing = false; log.info(`PostgreSQL is back; ${batch.length} waiting track(s) written`); }
      return true;
    } catch (err) {
      await c?.query('ROLLBACK').catch(() => {});
      this.pending.done(batch, false);
      if (!this.failing) log.error(`cannot write to PostgreSQL: ${(err as Error).message}; ended tracks wait in memory until it is back`);
      this.failing = true;
      return false;
    } finally {
      c?.release();
    }
  }

  private lastPrune = 0;
  /** Deletes rows older than `retentionDays`, at most once an hour. */
  private async prune(): Promise<void> {
    if (!this.opts.retentionDays || Date.now() - this.lastPrune < 3_600_000) return;
    this.lastPrune = Date.now();
    const before = Date.now() - this.opts.retentionDays * 86_400_000;
    try {
      for (const r of ROLLUPS) await this.pool.query(`DELETE FROM ${r.table} WHERE bucket < $1`, [Math.floor(before / r.ms) * r.ms]);
      await this.pool.query('DELETE FROM tracks WHERE ended_at < $1', [before]);
    } catch (err) {
      log.warn(`pruning PostgreSQL failed: ${(err as Error).message}`);
    }
  }

  async listSources(): Promise<unknown[]> {
    const { rows } = await this.pool.query<{ config: unknown }>('SELECT config FROM sources WHERE node = $1 ORDER BY added_at', [this.opts.node]);
    return rows.map((r) => r.config);
  }

  async saveSource(s: { name: string }): Promise<void> {
    await this.pool.query(`INSERT INTO sources VALUES ($1, $2, $3, $4) ON CONFLICT (node, name) DO UPDATE SET config = excluded.config`,
      [this.opts.node, s.name, JSON.stringify(s), Date.now()]);
  }

  async removeSource(name: string): Promise<void> {
    await this.pool.query('DELETE FROM sources WHERE node = $1 AND name = $2', [this.opts.node, name]);
  }

  async stats(q: { stream?: string; from?: number; to?: number; bucketMs?: number }): Promise<StatsRow[]> {
    const bucketMs = statsBucketMs(q.bucketMs);
    const r = rollupFor(bucketMs, q.from, q.to);
    const { rows } = await this.pool.query<Record<string, string | null>>(`SELECT (bucket / $1::bigint) * $1::bigint AS b, SUM(people) people, SUM(male) male, SUM(female) female,
        SUM(age_baby) baby, SUM(age_child) child, SUM(age_youth) youth, SUM(age_middle) middle, SUM(age_old) old,
        SUM(smiling) smiling, SUM(smile_known) known, SUM(dwell_sum) dwell, SUM(visitors) visitors
      FROM ${r.table} WHERE ($2::text IS NULL OR stream = $2) AND bucket >= $3 AND bucket < $4 GROUP BY b ORDER BY b`,
    [bucketMs, q.stream ?? null, r.from ?? 0, r.to ?? Number.MAX_SAFE_INTEGER]);
    return rows.map(statsRow);
  }

  /** Visits per hour (UTC hours; `heatmap` shifts them to local time). */
  async hourly(q: { stream?: string; from?: number; to?: number }): Promise<Array<{ bucket: number; people: number }>> {
    const { rows } = await this.pool.query<{ bucket: string; people: string }>(`SELECT bucket, SUM(people) people FROM aggregates_hour
      WHERE ($1::text IS NULL OR stream = $1) AND bucket >= $2 AND bucket < $3 GROUP BY bucket`,
    [q.stream ?? null, Math.floor((q.from ?? 0) / 3_600_000) * 3_600_000, q.to ?? Number.MAX_SAFE_INTEGER]);
    return rows.map((r) => ({ bucket: Number(r.bucket), people: Number(r.people) }));
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.retry();
    if (this.pending.length) log.error(`${this.pending.length} ended track(s) could not be written to PostgreSQL before closing`);
    await this.pool.end().catch(() => {});
  }
}
