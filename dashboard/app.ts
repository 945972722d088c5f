/**
 * The live dashboard. Served by facestream's HTTP server (bundled on the fly by esbuild, no
 * build step); it follows the events with facestream/client, as integrators do (resuming
 * after a dropped connection). Data: GET /api/streams every second, socket.io
 * events (all streams) for the live tiles and the log, GET /api/stats for demographics.
 */
import type { AlertEvent, FacestreamEvent, TrackAttributesJson, TrackEnded, TrackStarted, TrackUpdated, StatsEvent } from '../src/events/types.ts';
import { connect } from 'facestream/client';

interface StreamInfo { name: string; state: string; reason?: string; pipeline: string; frames: number; dropped: number; restarts: number; startedAt: number; firstFrameLatencyMs?: number; owner?: string; stageMs?: Record<string, number> }
interface StatsRow { from: number; people: number; visitors?: number; male: number; female: number; ageGroups: Record<string, number>; smiling: number; smilingShare: number | null }
interface TrackView { id: number; firstTs: number; lastTs: number; ended?: number; flags: string[]; attributes?: TrackAttributesJson; dwellMs?: number; endId?: string }
interface Answer { value: string; grade: string; probability?: number; checks?: Record<string, string> }
interface TrackRow { id: string | null; stream: string; trackId: number; endedAt: number; dwellMs: number; grade: string | null; gender?: Answer; ageGroup?: Answer; age?: number; smiling?: Answer; snapshot: boolean }
interface VideoFace { box: { x: number; y: number; width: number; height: number }; trackId?: number; predicted?: boolean; gender?: Answer; ageGroup?: Answer; age?: number }
interface VideoFrame { stream: string; ptsMs: number; wallMs: number; sentMs: number; width: number; height: number; jpeg: ArrayBuffer; faces: VideoFace[] }
declare const uPlot: new (opts: object, data: unknown[], el: HTMLElement) => { setData(d: unknown[]): void; setSize(s: { width: number; height: number }): void };

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const TOKEN_KEY = 'facestream.token';
let token = new URLSearchParams(location.search).get('token') ?? localStorage.getItem(TOKEN_KEY) ?? '';
let asked = false;

function askToken(): void {
  if (asked) return;
  asked = true;
  const t = prompt('This facestream server needs its access token (http.token in the config):') ?? '';
  if (t) { token = t; localStorage.setItem(TOKEN_KEY, t); location.reload(); }
}

async function api<T>(path: string): Promise<T | undefined> {
  const res = await fetch(path, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  if (res.status === 401) { askToken(); return undefined; }
  if (!res.ok) return undefined;
  return (await res.json()) as T;
}

// ---- state
const streams = new Map<string, StreamInfo & { fps?: number; prev?: { frames: number; t: number } }>();
const tracks = new Map<string, Map<number, TrackView>>();
const inView = new Map<string, number>();
const events: FacestreamEvent[] = [];
/** Alerts raised and not cleared: rule|stream|track -> the raising event. */
const alerts = new Map<string, AlertEvent>();
let selected: string | undefined;
let dirty = true;

// ---- streams overview
async function pollStreams(): Promise<void> {
  try {
    const r = await api<{ streams: StreamInfo[] }>('api/streams');
    if (!r) return;
    const now = performance.now();
    for (const s of r.streams) {
      const old = streams.get(s.name);
      const prev = old?.prev;
      const fps = prev && now > prev.t ? ((s.frames - prev.frames) * 1000) / (now - prev.t) : old?.fps;
      streams.set(s.name, { ...s, fps, prev: { frames: s.frames, t: now } });
    }
    if (!selected || !streams.has(selected)) selected = r.streams.find((s) => s.state === 'live')?.name ?? r.streams[0]?.name;
    renderStreams();
  } catch { /* the server restarts: the next poll retries */ }
}

function renderStreams(): void {
  const body = $('streams');
  if (!streams.size) { body.innerHTML = '<tr class="empty"><td colspan="9">no stream yet</td></tr>'; return; }
  body.replaceChildren(...[...streams.values()].flatMap((s) => {
    const tr = document.createElement('tr');
    tr.dataset.stream = s.name;
    if (s.name === selected) tr.className = 'sel';
    const live = tracks.get(s.name);
    const view = inView.get(s.name) ?? (live ? [...live.values()].filter((t) => !t.ended).length : 0);
    const cells = [s.name, s.state, s.fps == null ? '–' : s.fps.toFixed(1), String(s.frames), String(s.dropped), String(s.restarts),
      s.firstFrameLatencyMs == null ? '–' : `${s.firstFrameLatencyMs} ms`, String(view), s.owner ?? '–'];
    cells.forEach((c, i) => {
      const td = document.createElement('td');
      td.textContent = c;
      // frames dropped because the analysis is behind the camera: a warning past 5%
      if (i === 4 && s.frames > 20 && s.dropped / s.frames > 0.05) {
        td.className = 'warn';
        td.textContent = `${c} (${Math.round((100 * s.dropped) / s.frames)}%)`;
        td.title = 'frames dropped because the analysis is behind the camera: lower ingest.fps or add a machine';
      }
      if (i === 1) {
        td.className = s.state;
        if (s.reason) td.title = s.reason; // why it restarts, stalled or failed
      }
      tr.append(td);
    });
    tr.onclick = () => { selected = s.name; dirty = true; renderStreams(); void pollStats(); watchSelected(); };
    // where an analysed frame's time goes: waiting in the queue, then each element
    const stages = Object.entries(s.stageMs ?? {});
    if (!stages.length || s.state === 'ended' || s.state === 'error') return [tr];
    const detail = document.createElement('tr');
    detail.className = 'stages';
    const td = document.createElement('td');
    td.colSpan = 9;
    td.textContent = `ms per frame: ${stages.map(([k, v]) => `${k} ${v < 10 ? v.toFixed(1) : Math.round(v)}`).join(' · ')}`;
    td.title = 'wait: decoded to analysis start (the queue); then each element of the pipeline (a batched element includes waiting for its batch); moving average';
    detail.append(td);
    return [tr, detail];
  }));
  $('live-name').textContent = selected ?? 'pick a stream';
  const pick = $<HTMLSelectElement>('rv-stream');
  for (const name of streams.keys()) {
    if (![...pick.options].some((o) => o.value === name)) pick.append(new Option(name, name));
  }
  watchSelected();
}

// ---- live tiles
function onTrack(e: TrackStarted | TrackUpdated | TrackEnded): void {
  const m = tracks.get(e.stream) ?? new Map<number, TrackView>();
  tracks.set(e.stream, m);
  const t = m.get(e.trackId) ?? { id: e.trackId, firstTs: e.ts, lastTs: e.ts, flags: [] };
  t.lastTs = e.ts;
  if (e.type !== 'track.started') { t.flags = e.flags; if (e.attributes) t.attributes = e.attributes; }
  if (e.type === 'track.ended') { t.ended = Date.now(); t.dwellMs = e.dwellMs; t.endId = e.id; }
  m.set(e.trackId, t);
  if (e.stream === selected) dirty = true;
}

function answer(label: string, a?: Answer): string {
  if (!a) return `<div class="row"><span>${label}</span><span>–</span></div>`;
  // a gender the checks dispute is withheld: say which check, so that "female C" on a clear face is explained
  const disputed = Object.entries(a.checks ?? {}).filter(([, v]) => v === 'disagrees').map(([k]) => k);
  const why = disputed.length ? `<span class="disputed" title="withheld: the network and the ${esc(disputed.join(' and '))} check${disputed.length > 1 ? 's' : ''} disagree">≠</span>` : '';
  return `<div class="row"><span>${label}</span><span>${esc(a.value)}<span class="grade g-${a.grade}" title="confidence grade">${a.grade}</span>${why}</span></div>`;
}

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

function renderTracks(): void {
  const box = $('tracks');
  const m = selected ? tracks.get(selected) : undefined;
  const now = Date.now();
  if (m) for (const [id, t] of m) if (t.ended && now - t.ended > 5000) { m.delete(id); if (t.endId) forgetThumb(selected!, t.endId); }
  const list = m ? [...m.values()].sort((a, b) => a.id - b.id) : [];
  if (!list.length) { box.innerHTML = '<p class="empty">no one in view</p>'; return; }
  box.innerHTML = list.slice(0, 200).map((t) => {
    const a = t.attributes;
    const dwell = ((t.dwellMs ?? t.lastTs - t.firstTs) / 1000).toFixed(1);
    const top = a ? Object.entries(a.celeba).filter(([, p]) => p > 0.6).sort((x, y) => y[1] - x[1]).slice(0, 3).map(([k]) => k.replace(/_/g, ' ')).join(', ') : '';
    const thumb = t.endId && features.snapshots ? thumbUrl(selected!, t.endId) : undefined;
    return `<div class="tile${t.ended ? ' ended' : ''}" data-track="${t.id}"><h3><span>#${t.id}</span><span>${dwell} s${t.ended ? ' · left' : ''}</span></h3>`
      + (thumb ? `<img class="thumb" alt="track ${t.id}" src="${thumb}">` : '')
      + answer('gender', a?.gender) + answer('age', a?.ageGroup && { ...a.ageGroup, value: `${a.ageGroup.value}${a.age != null ? ` (~${Math.round(a.age)})` : ''}` })
      + answer('smiling', a?.smiling) + `<div class="flags">${esc([...t.flags, top].filter(Boolean).join(' · '))}</div></div>`;
  }).join('');
}

// ---- thumbnails (storage.snapshots): fetched once with the token in a header, kept as blob URLs
const thumbs = new Map<string, string | null>(); // "stream id" -> object URL (null: loading or none)
function thumbUrl(stream: string, id: string): string | undefined {
  const key = `${stream} ${id}`;
  if (!thumbs.has(key)) {
    thumbs.set(key, null);
    void fetch(`api/tracks/${encodeURIComponent(id)}/snapshot.jpg?stream=${encodeURIComponent(stream)}`, token ? { headers: { authorization: `Bearer ${token}` } } : {})
      .then(async (r) => { if (r.ok) { thumbs.set(key, URL.createObjectURL(await r.blob())); dirty = true; reviewDirty = true; } })
      .catch(() => {});
  }
  return thumbs.get(key) ?? undefined;
}
function forgetThumb(stream: string, id: string): void {
  const key = `${stream} ${id}`;
  const url = thumbs.get(key);
  if (url) URL.revokeObjectURL(url);
  thumbs.delete(key);
}

// ---- live view (dashboard.video): the analysed frames with the boxes found in them
let features = { video: false, tracks: false, snapshots: false };
const canvas = $<HTMLCanvasElement>('video');
const video = { frames: 0, lagMs: [] as number[], watching: undefined as string | undefined };
function watchSelected(): void {
  if (!features.video || !selected || video.watching === selected || !client.socket.connected) return;
  video.watching = selected;
  client.socket.emit('watch', { stream: selected }, (ack: { ok: boolean; error?: string }) => {
    if (!ack?.ok) $('video-info').textContent = ack?.error ?? 'the live view was refused';
  });
}
const BOX = '#00e5ff';
function label(f: VideoFace): string {
  const parts = [f.trackId != null ? `#${f.trackId}` : 'new'];
  if (f.gender) parts.push(`${f.gender.value} ${f.gender.grade}`);
  if (f.ageGroup) parts.push(`${f.ageGroup.value}${f.age != null ? ` ~${Math.round(f.age)}` : ''} ${f.ageGroup.grade}`);
  return parts.join(' · ');
}
async function onFrame(f: VideoFrame): Promise<void> {
  if (f.stream !== selected) return;
  const bmp = await createImageBitmap(new Blob([f.jpeg], { type: 'image/jpeg' }));
  if (canvas.width !== f.width || canvas.height !== f.height) { canvas.width = f.width; canvas.height = f.height; }
  const g = canvas.getContext('2d')!;
  g.drawImage(bmp, 0, 0);
  bmp.close();
  g.lineWidth = 3;
  g.font = '600 13px system-ui, sans-serif';
  for (const face of f.faces) {
    const { x, y, width, height } = face.box;
    g.strokeStyle = BOX;
    g.setLineDash(face.predicted ? [6, 4] : []);
    g.strokeRect(x, y, width, height);
    const text = label(face);
    const w = g.measureText(text).width + 8;
    const ty = y > 20 ? y - 20 : y + height;
    g.fillStyle = 'rgba(0,0,0,.65)';
    g.fillRect(x, ty, w, 19);
    g.fillStyle = '#fff';
    g.fillText(text, x + 4, ty + 14);
  }
  g.setLineDash([]);
  // the picture's delay behind its decoding on the server; the boxes are this frame's own
  const lag = Date.now() - f.wallMs;
  video.frames++;
  video.lagMs.push(lag);
  if (video.lagMs.length > 50) video.lagMs.shift();
  const sorted = [...video.lagMs].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  canvas.dataset.frames = String(video.frames);
  canvas.dataset.faces = String(f.faces.length);
  canvas.dataset.lagMs = String(median);
  if (f.faces[0]) canvas.dataset.box = JSON.stringify(f.faces[0].box);
  $('video-info').textContent = `${f.stream} at ${(f.ptsMs / 1000).toFixed(1)} s · ${f.faces.length} face${f.faces.length === 1 ? '' : 's'} · `
    + `boxes drawn on the frame they were found in · the picture is ${median} ms behind the server's decoding (median)`;
}

// ---- review (per-track rows; thumbnails with storage.snapshots)
let reviewDirty = false;
let reviewRows: TrackRow[] = [];
let reviewNext: number | undefined;
async function loadReview(more = false): Promise<void> {
  if (!features.tracks) return;
  const v = (id: string) => ($(id) as HTMLSelectElement).value;
  const q = new URLSearchParams({ from: String(Date.now() - Number(v('rv-range'))), limit: '60' });
  for (const [k, id] of [['stream', 'rv-stream'], ['gender', 'rv-gender'], ['ageGroup', 'rv-age'], ['grade', 'rv-grade']] as const) if (v(id)) q.set(k, v(id));
  if (more && reviewNext != null) q.set('before', String(reviewNext));
  const r = await api<{ tracks: TrackRow[]; next?: number }>(`api/tracks?${q}`).catch(() => undefined);
  if (!r) return;
  reviewRows = more ? [...reviewRows, ...r.tracks] : r.tracks;
  reviewNext = r.next;
  $('rv-more').hidden = r.next == null;
  renderReview();
}
function renderReview(): void {
  const box = $('rv-list');
  if (!reviewRows.length) { box.innerHTML = '<p class="empty">no track in this range</p>'; return; }
  box.innerHTML = reviewRows.map((t) => {
    const img = t.snapshot && t.id ? thumbUrl(t.stream, t.id) : undefined;
    return `<div class="tile rv" data-id="${esc(t.id ?? '')}" data-stream="${esc(t.stream)}">${img ? `<img alt="track ${t.trackId}" src="${img}">` : ''}`
      + `<h3><span>#${t.trackId}</span><span>${(t.dwellMs / 1000).toFixed(1)} s</span></h3>`
      + `<div class="when">${esc(t.stream)} · ${new Date(t.endedAt).toLocaleString()}</div>`
      + answer('gender', t.gender) + answer('age', t.ageGroup && { ...t.ageGroup, value: `${t.ageGroup.value}${t.age != null ? ` (~${Math.round(t.age)})` : ''}` })
      + answer('smiling', t.smiling)
      + (t.id ? '<button class="del" title="delete this track and its thumbnail">delete</button>' : '') + '</div>';
  }).join('');
}
$('rv-list').addEventListener('click', async (ev) => {
  const b = ev.target as HTMLElement;
  if (!b.classList.contains('del')) return;
  const tile = b.closest<HTMLElement>('.rv')!;
  const { id, stream } = tile.dataset;
  const res = await fetch(`api/tracks/${encodeURIComponent(id!)}?stream=${encodeURIComponent(stream!)}`, { method: 'DELETE', ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
  if (res.ok || res.status === 404) {
    reviewRows = reviewRows.filter((t) => !(t.id === id && t.stream === stream));
    forgetThumb(stream!, id!);
    renderReview();
  }
});
for (const id of ['rv-range', 'rv-stream', 'rv-gender', 'rv-age', 'rv-grade']) $(id).addEventListener('change', () => { void loadReview(); });
$('rv-more').addEventListener('click', () => { void loadReview(true); });

// ---- demographics
let peopleChart: ReturnType<typeof makeChart> | undefined;
let smileChart: ReturnType<typeof makeChart> | undefined;

function makeChart(el: HTMLElement, label: string, color: string, range?: [number, number]) {
  const width = Math.max(280, el.clientWidth || 500);
  return new uPlot({
    width, height: 150, title: label,
    // the x axis spans the chosen time range, not just the buckets that have data
    scales: { x: { time: true, range: () => [(Date.now() - rangeMs()) / 1000, Date.now() / 1000] }, y: range ? { range } : { auto: true } },
    series: [{}, { label, stroke: color, fill: `${color}22`, width: 2, spanGaps: true }],
    axes: [{}, { size: 45 }],
  }, [[], []], el);
}

const rangeMs = () => Number(($('range') as HTMLSelectElement).value);

async function pollHeatmap(): Promise<void> {
  if (!selected) return;
  const r = await api<{ weekdays: string[]; cells: number[][] }>(`api/heatmap?stream=${encodeURIComponent(selected)}&from=${Date.now() - Math.max(rangeMs(), 7 * 86_400_000)}&tz=${-new Date().getTimezoneOffset()}`).catch(() => undefined);
  if (!r) return;
  const max = Math.max(1, ...r.cells.flat());
  const el = $('heatmap');
  el.replaceChildren(...r.cells.flatMap((row, d) => [
    Object.assign(document.createElement('span'), { className: 'day', textContent: r.weekdays[d] }),
    ...row.map((v, h) => {
      const c = document.createElement('i');
      c.style.opacity = String(v ? 0.15 + (0.85 * v) / max : 0.04);
      c.title = `${r.weekdays[d]} ${h}:00-${h + 1}:00: ${v} visit${v === 1 ? '' : 's'}`;
      return c;
    }),
  ]));
}

async function pollStats(): Promise<void> {
  void pollHeatmap();
  if (!selected) return;
  const range = rangeMs();
  const bucket = range > 7 * 86_400_000 ? 86_400_000 : range > 86_400_000 ? 3_600_000 : range > 3_600_000 ? 900_000 : 60_000;
  const r = await api<{ buckets: StatsRow[] }>(`api/stats?stream=${encodeURIComponent(selected)}&from=${Date.now() - range}&bucket=${bucket}`).catch(() => undefined);
  if (!r) return;
  const rows = r.buckets;
  const sum = (f: (b: StatsRow) => number) => rows.reduce((p, b) => p + f(b), 0);
  const people = sum((b) => b.people);
  const male = sum((b) => b.male);
  const female = sum((b) => b.female);
  $('people').textContent = String(people);
  $('visitors').textContent = String(sum((b) => b.visitors ?? b.people));
  const known = male + female;
  const pm = known ? Math.round((100 * male) / known) : 0;
  // the numbers under the bar: a narrow segment has no room for its label
  $('gender').innerHTML = known
    ? `<span class="m" style="width:${(100 * male) / known}%">${pm >= 25 ? `${pm}%` : ''}</span><span class="f" style="width:${(100 * female) / known}%">${100 - pm >= 25 ? `${100 - pm}%` : ''}</span>`
    : '<span style="width:100%;color:#666">no answers yet</span>';
  $('gender-caption').textContent = known ? `${pm}% male · ${100 - pm}% female` : 'gender';
  // people whose gender the network graded below storage.minGrade: counted, not split
  $('gender').title = people > known ? `${people - known} of ${people} unsure (below the configured grade)` : '';
  $('gender-unsure').textContent = people > known ? `${people - known} unsure` : '';
  const ages: Record<string, number> = {};
  for (const b of rows) for (const [k, v] of Object.entries(b.ageGroups)) ages[k] = (ages[k] ?? 0) + v;
  const max = Math.max(1, ...Object.values(ages));
  $('ages').innerHTML = Object.entries(ages).map(([k, v]) => `<div style="height:${(100 * v) / max}%" title="${esc(k)}: ${v}"><span>${esc(k)}</span></div>`).join('') || '<p class="empty">no answers yet</p>';
  const xs = rows.map((b) => b.from / 1000);
  peopleChart ??= makeChart($('chart-people'), 'people per interval', '#3b6fd1');
  smileChart ??= makeChart($('chart-smile'), 'smiling share', '#18794e', [0, 1]);
  peopleChart.setData([xs, rows.map((b) => b.people)]);
  smileChart.setData([xs, rows.map((b) => b.smilingShare)]);
}

// ---- event log
function renderLog(): void {
  const types = [...document.querySelectorAll<HTMLInputElement>('#log input[type=checkbox]')].filter((c) => c.checked).map((c) => c.dataset.type);
  const text = ($('filter') as HTMLInputElement).value.trim().toLowerCase();
  const shown = events.filter((e) => types.includes(e.type.split('.')[0]) && (!text || JSON.stringify(e).toLowerCase().includes(text))).slice(-200).reverse();
  $('events').innerHTML = shown.map((e) => `<li>${new Date(e.ts).toLocaleTimeString()} <b>${e.type}</b> ${esc(e.stream)} ${esc(JSON.stringify(summary(e)))}</li>`).join('');
}

function summary(e: FacestreamEvent): object {
  switch (e.type) {
    case 'track.started': return { track: e.trackId, score: e.score };
    case 'track.updated': return { track: e.trackId, gender: e.attributes?.gender?.value, age: e.attributes?.ageGroup?.value, smiling: e.attributes?.smiling?.value };
    case 'track.ended': return { track: e.trackId, dwellMs: e.dwellMs, gender: e.attributes?.gender?.value, age: e.attributes?.ageGroup?.value };
    case 'stats': return { people: e.people, inView: e.inView, smilingShare: e.smilingShare };
    default: { const { v: _v, stream: _s, ts: _t, type: _ty, ...rest } = e as FacestreamEvent & Record<string, unknown>; return rest; }
  }
}

function snippet(): string {
  return [
    "import { connect } from 'facestream/client';",
    `const client = connect('${location.origin}', { streams: ['${selected ?? '*'}']${token ? ", token: 'YOUR_TOKEN'" : ''} });`,
    "client.on('track.ended', (e) => console.log(e.stream, e.trackId, e.attributes?.gender?.value));",
    "client.on('gap', (streams) => console.warn('events missed for good:', streams));",
  ].join('\n');
}

// ---- wiring
const client = connect(location.origin, { token: token || undefined, streams: ['*'], socket: { transports: ['websocket', 'polling'] } });
const conn = $('conn');
client.on('connect', () => {
  conn.textContent = 'live';
  conn.className = 'pill on';
  video.watching = undefined; // a new connection watches nothing yet
  watchSelected();
});
client.socket.on('frame', (f: VideoFrame) => { void onFrame(f).catch(() => {}); });
client.on('disconnect', () => { conn.textContent = 'reconnecting…'; conn.className = 'pill off'; });
client.on('error', (err: Error) => {
  conn.textContent = 'reconnecting…';
  conn.className = 'pill off';
  if (/unauthorized/.test(err.message)) askToken();
});
function onAlert(a: AlertEvent): void {
  const key = `${a.rule}|${a.stream}|${a.trackId ?? ''}`;
  if (a.state === 'raised') alerts.set(key, a); else alerts.delete(key);
  const box = $('alerts');
  box.hidden = alerts.size === 0;
  const ul = document.createElement('ul');
  for (const x of alerts.values()) {
    const li = document.createElement('li');
    li.textContent = `${new Date(x.ts).toLocaleTimeString()} ${x.rule}: ${x.message}`;
    ul.append(li);
  }
  box.replaceChildren(ul);
}

// alerts raised before this page opened
void api<{ events: AlertEvent[] }>('/api/events?type=alert&limit=1000').then((r) => { for (const a of r?.events ?? []) onAlert(a); });

client.on('event', (e: FacestreamEvent) => {
  if (e.type === 'alert') onAlert(e);
  events.push(e);
  if (events.length > 1000) events.splice(0, events.length - 1000);
  if (e.type.startsWith('track.')) onTrack(e as TrackStarted | TrackUpdated | TrackEnded);
  if (e.type === 'stats') inView.set(e.stream, (e as StatsEvent).inView);
  // stream states from the events at once; the next poll of /api/streams confirms them
  const s = streams.get(e.stream);
  const state = ({ 'stream.started': 'live', 'stream.stalled': 'stalled', 'stream.restarting': 'restarting', 'stream.ended': 'ended', 'stream.error': 'error' } as Record<string, string>)[e.type];
  if (e.type === 'stream.ended') inView.set(e.stream, 0);
  if (s && state) { s.state = e.type === 'stream.ended' && (e as { error?: unknown }).error ? 'error' : state; renderStreams(); }
  logDirty = true;
});
let logDirty = false;

document.querySelectorAll('#log input').forEach((el) => el.addEventListener('input', renderLog));
$('range').addEventListener('change', () => { void pollStats(); });
$('copy').addEventListener('click', async () => {
  const s = snippet();
  const pre = $('snippet');
  pre.textContent = s;
  pre.hidden = false;
  try { await navigator.clipboard.writeText(s); $('copy').textContent = 'copied'; } catch { $('copy').textContent = 'select and copy below'; }
});

setInterval(() => {
  if (dirty) { dirty = false; renderTracks(); }
  if (reviewDirty) { reviewDirty = false; renderReview(); }
  if (logDirty) { logDirty = false; renderLog(); }
}, 300);
setInterval(() => { dirty = true; }, 1000); // dwell times and ended tiles age
interface ServerInfo { version: string; node: string; rtmp: { port: number }; backend: string; engine?: string; rssBytes: number; cpuPercent: number | null; features?: typeof features }
async function pollInfo(): Promise<void> {
  const i = await api<ServerInfo>('/api/info').catch(() => undefined);
  if (!i) return;
  $('publish-url').textContent = `rtmp://${location.hostname}:${i.rtmp.port}/live/NAME`;
  if (i.features && JSON.stringify(i.features) !== JSON.stringify(features)) {
    features = i.features;
    $('video-wrap').hidden = !features.video;
    $('review').hidden = !features.tracks;
    if (features.video || features.snapshots) {
      $('privacy').textContent = `${features.video ? 'The live view shows the analysed frames (dashboard.video is on). ' : ''}`
        + `${features.snapshots ? 'Each track keeps a thumbnail of its face (storage.snapshots is on). ' : ''}Grades S–D say how far to trust each answer (S: the model is sure).`;
    }
    watchSelected();
    void loadReview();
  }
  // the engine the networks run on (onnxruntime or tfjs); tfjs' backend only where the server predates it
  $('system').textContent = `v${i.version} · ${i.engine ?? i.backend} · ${Math.round(i.rssBytes / 2 ** 20)} MB${i.cpuPercent == null ? '' : ` · CPU ${Math.round(i.cpuPercent)}%`}`;
}
setInterval(() => { void pollStreams(); }, 1000);
setInterval(() => { void pollInfo(); }, 5000);
void pollInfo();
setInterval(() => { void pollStats(); }, 5000);
// the review's first page follows new tracks; older pages stay as they are while read
setInterval(() => { if (reviewNext == null) void loadReview(); }, 10_000);
void pollStreams().then(pollStats);
