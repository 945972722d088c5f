/**
 * Credentials in URLs never leave the process: a camera's `rtsp://admin:PASS@host/...`,
 * a signed `?sign=...` RTMP URL or a `?token=` are rewritten before they reach an event,
 * a REST answer, a log line, a metric or the database. The real URL stays inside the
 * decoder's command line only.
 */

/** Query parameters whose values are secrets (compared case-insensitively). */
const SECRET_PARAMS = /^(sign|token|access_token|auth|password|passwd|pass|pwd|secret|key|apikey|api_key|signature|sig)$/i;
const MASK = '***';

/** `scheme://user:pass@host` and `scheme://token@host` anywhere in a text. */
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@'"]+@/gi;
/** `?sign=...` / `&token=...` anywhere in a text. */
const QUERY_SECRET = /([?&;])([A-Za-z_]+)=([^\s&#'"]*)/g;

/** The same text with every URL's user info and secret query values replaced by `***`. */
export function redact(text: string): string {
  if (!text) return text;
  return text
    .replace(USERINFO, `$1${MASK}@`)
    .replace(QUERY_SECRET, (all, sep: string, key: string) => (SECRET_PARAMS.test(key) ? `${sep}${key}=${MASK}` : all));
}

/** Redacts every string inside a JSON-like value (a new value; the input is not changed). */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v)) as T;
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v)])) as T;
  }
  return value;
}
