/**
 * `npx tsx lab/bench/rollups.ts`: a venue report over 90 days on a year of minute rows, read
 * from the day rollup (what /api/stats and /api/report.csv do with a bucket of a day) and,
 * for comparison, from the minutes. One stream, one row a minute for 365 days (525,600 rows),
 * in a temporary SQLite file. Prints JSON: medians of 15 runs, in ms.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { AggregateStore } from '../../src/events/store.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-rollups-'));
const file = path.join(dir, 'year.db');
const DAY = 86_400_000;
const end = Math.floor(Date.now() / DAY) * DAY;
const start = end - 365 * DAY;

// a year of minutes, written straight into the minute table; the rollups are filled on opening
let s = new AggregateStore({ file, retentionDays: 3650 });
s.close();
const db = new Database(file);
db.exec('DELETE FROM aggregates; DROP TABLE aggregates_day; DROP TABLE aggregates_hour');
const insert = db.prepare('INSERT INTO aggregates VALUES (?, ?, ?, ?, ?, 0, 0, ?, 0, 0, ?, ?, ?)');
const t0 = performance.now();
db.transaction(() => {
  for (let t = start; t < end; t += 60_000) insert.run('live/hall', t, 3, 1, 2, 3, 1, 3, 12_000);
})();
db.close();
const seedMs = performance.now() - t0;
const t1 = performance.now();
s = new AggregateStore({ file, retentionDays: 3650 });
const rollupBuildMs = performance.now() - t1;

const median = (f: () => void) => {
  const times: number[] = [];
  for (let i = 0; i < 15; i++) { const a = performance.now(); f(); times.push(performance.now() - a); }
  return times.sort((a, b) => a - b)[7]!;
};
const from = end - 90 * DAY;
let rows = 0;
const fromDays = median(() => { rows = s.stats({ stream: 'live/hall', from, to: end, bucketMs: DAY }).length; });
const raw = new Database(file, { readonly: true });
const minuteSql = raw.prepare(`SELECT (bucket / ${DAY}) * ${DAY} b, SUM(people) FROM aggregates WHERE stream = ? AND bucket >= ? AND bucket < ? GROUP BY b`);
const fromMinutes = median(() => { minuteSql.all('live/hall', from, end); });
const hourly = median(() => { s.stats({ stream: 'live/hall', from, to: end, bucketMs: 3_600_000 }); });
raw.close();
s.close();
fs.rmSync(dir, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify({
  minuteRows: 365 * 1440, seedMs: Math.round(seedMs), rollupBuildMs: Math.round(rollupBuildMs), days: rows,
  report90DaysByDayMs: +fromDays.toFixed(2), report90DaysByHourMs: +hourly.toFixed(2), sameFromMinutesMs: +fromMinutes.toFixed(2),
})}\n`);
