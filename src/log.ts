/**
 * Logs, through pino, on stderr so that stdout stays free for `--json` event lines:
 * readable lines on a terminal (pino-pretty), one JSON object per line otherwise (a
 * service manager's journal, a log shipper). The level is `FACESTREAM_LOG`
 * (debug|info|warn|error, default info); `FACESTREAM_LOG_FORMAT=pretty|json` overrides the choice. URLs' credentials are redacted in every message
 * and field before they are written.
 */
import { isMainThread } from 'node:worker_threads';
import pino from 'pino';
import pretty from 'pino-pretty';
import { redact, redactDeep } from './redact.ts';

export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string, extra?: object): void;
  info(msg: string, extra?: object): void;
  warn(msg: string, extra?: object): void;
  error(msg: string, extra?: object): void;
  child(scope: string): Logger;
}

/**
 * FACESTREAM_LOG_FORMAT (pretty|json) decides; else the terminal does. The main thread's
 * decision is passed on to worker threads (whose stderr is never a TTY) by the environment
 * they inherit.
 */
function logFormat(): 'pretty' | 'json' {
  const env = process.env.FACESTREAM_LOG_FORMAT;
  return env === 'pretty' || env === 'json' ? env : process.stderr.isTTY ? 'pretty' : 'json';
}
if (isMainThread) process.env.FACESTREAM_LOG_FORMAT = logFormat();

let root: pino.Logger | undefined;
function rootLogger(): pino.Logger {
  if (root) return root;
  const env = process.env.FACESTREAM_LOG ?? 'info';
  const level = ['debug', 'info', 'warn', 'error'].includes(env) ? env : 'info';
  const format = logFormat();
  const destination = format === 'pretty'
    ? pretty({ destination: 2, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,scope', messageFormat: '[{scope}] {msg}' })
    : pino.destination({ fd: 2, sync: true });
  root = pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } }, destination);
  return root;
}

export function createLogger(scope = 'facestream'): Logger {
  let logger: pino.Logger | undefined;
  const get = () => (logger ??= rootLogger().child({ scope }));
  const write = (level: Level, msg: string, extra?: object) => {
    const l = get();
    if (!l.isLevelEnabled(level)) return;
    if (extra && Object.keys(extra).length) l[level](redactDeep({ ...extra }), redact(msg));
    else l[level](redact(msg));
  };
  return {
    debug: (m, e) => write('debug', m, e),
    info: (m, e) => write('info', m, e),
    warn: (m, e) => write('warn', m, e),
    error: (m, e) => write('error', m, e),
    child: (s) => createLogger(`${scope}:${s}`),
  };
}

export const log = createLogger();
