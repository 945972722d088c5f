/**
 * Child processes of a process, read from /proc (Linux): how the soak (lab) and the shutdown
 * test check that every ffmpeg facestream started is still, or no longer, there.
 */
import fs from 'node:fs';

/** Pids of the direct children of `pid` whose command line contains `name` (all when omitted). */
export function childPids(pid: number, name?: string): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== pid) continue;
      if (name && !fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(name)) continue;
      out.push(Number(d));
    } catch { /* gone meanwhile */ }
  }
  return out;
}
