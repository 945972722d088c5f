/** Logs go to stderr so that stdout stays free for `--json` event lines; URLs' credentials are redacted. */
import { redact } from './redact.ts';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function threshold(): number {
  const env = (process.env.FACESTREAM_LOG ?? 'info') as Level;
  return order[env] ?? order.info;
}

export interface Logger {
  debug(msg: string, extra?: object): void;
  info(msg: string, extra?: object): void;
  warn(msg: string, extra?: object): void;
  error(msg: string, extra?: object): void;
  child(scope: string): Logger;
}

export function createLogger(scope = 'facestream'): Logger {
  const write = (level: Level, msg: string, extra?: object) => {
    if (order[level] < threshold()) return;
    const tail = extra && Object.keys(extra).length ? ' ' + JSON.stringify(extra) : '';
    process.stderr.write(redact(`${new Date().toISOString()} ${level.padEnd(5)} [${scope}] ${msg}${tail}`) + '\n');
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
