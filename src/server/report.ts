/**
 * GET /api/report.html: a venue's report as a printable page, rendered on the server (no
 * script): per stream the visits, gender split, age groups, smiling share and mean dwell
 * over the range, visits per day, and the weekday x hour heatmap. Under /api/, so the token
 * is required where one is set (`?token=` works for a browser). Every text is escaped.
 */
import { WEEKDAYS, type StatsRow } from '../events/store.ts';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const pct = (n: number, d: number) => (d ? `${Math.round((100 * n) / d)}%` : '–');
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export function renderReport(o: {
  from: number; to: number; generatedAt: number;
  streams: Array<{ name: string; days: StatsRow[]; heat: number[][] }>;
}): string {
  const sections = o.streams.map(({ name, days, heat }) => {
    const sum = (f: (r: StatsRow) => number) => days.reduce((a, r) => a + f(r), 0);
    const visits = sum((r) => r.people), male = sum((r) => r.male), female = sum((r) => r.female);
    // unique within reid.windowMinutes: a person back the next day is a visitor again
    const visitors = sum((r) => r.visitors ?? r.people);
    const ages: Record<string, number> = {};
    for (const r of days) for (const [k, v] of Object.entries(r.ageGroups)) ages[k] = (ages[k] ?? 0) + v;
    const agesKnown = Object.values(ages).reduce((a, b) => a + b, 0);
    const dwell = sum((r) => (r.meanDwellMs ?? 0) * r.people);
    // the days' smiling shares weighted by their visits
    const smileVisits = sum((r) => (r.smilingShare == null ? 0 : r.people));
    const smileShare = smileVisits ? sum((r) => (r.smilingShare ?? 0) * r.people) / smileVisits : null;
    const max = Math.max(1, ...heat.flat());
    const heatRows = heat.map((row, d) => `<tr><th>${WEEKDAYS[d]}</th>${row.map((v) => `<td style="background:rgba(59,111,209,${v ? (0.15 + (0.85 * v) / max).toFixed(2) : 0})">${v || ''}</td>`).join('')}</tr>`).join('');
    return `<section><h2>${esc(name)}</h2>
<table class="kpi"><tr><th>visits</th><td>${visits}</td><th>unique visitors</th><td>${visitors}</td><th>male</th><td>${male} (${pct(male, male + female)})</td><th>female</th><td>${female} (${pct(female, male + female)})</td><th>gender unsure</th><td>${visits - male - female}</td></tr>
<tr><th>smiling</th><td>${smileShare == null ? '–' : `${Math.round(smileShare * 100)}%`}</td><th>mean dwell</th><td>${visits ? `${(dwell / visits / 1000).toFixed(1)} s` : '–'}</td>${Object.entries(ages).map(([k, v]) => `<th>${esc(k)}</th><td>${v} (${pct(v, agesKnown)})</td>`).join('')}</tr></table>
<h3>Visits per day</h3>
<table class="days"><tr><th>day (UTC)</th><th>visits</th><th>visitors</th><th>male</th><th>female</th><th>smiling</th><th>mean dwell</th></tr>
${days.map((r) => `<tr><td>${day(r.from)}</td><td>${r.people}</td><td>${r.visitors ?? r.people}</td><td>${r.male}</td><td>${r.female}</td><td>${r.smilingShare == null ? '–' : `${Math.round(r.smilingShare * 100)}%`}</td><td>${r.meanDwellMs == null ? '–' : `${(r.meanDwellMs / 1000).toFixed(1)} s`}</td></tr>`).join('\n') || '<tr><td colspan="7">no visit in this range</td></tr>'}
</table>
<h3>Visits by weekday and hour (UTC)</h3>
<table class="heat"><tr><th></th>${Array.from({ length: 24 }, (_, h) => `<th>${h}</th>`).join('')}</tr>${heatRows}</table></section>`;
  }).join('\n');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>facestream report ${day(o.from)} to ${day(o.to)}</title>
<style>body{font:13px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1d2733}h1{font-size:1.3rem}h2{margin-top:1.5rem;border-bottom:1px solid #ccd}
table{border-collapse:collapse;margin:.4rem 0}td,th{padding:.2rem .45rem;border:1px solid #dde2ea;text-align:right}th{background:#f6f7f9;font-weight:600}
.heat td{width:1.6rem;height:1.1rem;font-size:.7rem}.note{color:#5f6b7a}@media print{body{margin:0}section{break-inside:avoid}}</style></head><body>
<h1>facestream report: ${day(o.from)} to ${day(o.to)}</h1>
<p class="note">Visits are tracks that ended: a person who leaves and comes back is counted again. Gender, age group and smile count only when their grade reached the configured minimum; the rest is "unsure". Generated ${esc(new Date(o.generatedAt).toISOString())}.</p>
${sections || '<p>No stream in this report.</p>'}
</body></html>`;
}
