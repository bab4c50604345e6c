/**
 * CPU time of other processes on this machine, for the benchmarks' "CPU per
 * call" figures: a child's or the local broker's utime + stime from
 * /proc/<pid>/stat (Linux; null elsewhere).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** USER_HZ: /proc/<pid>/stat counts in clock ticks, 100 per second on Linux. */
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) a process has used so far, or null when /proc cannot tell. */
export function processCpuSeconds(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    // the command name may contain spaces and parentheses: fields start after the last ') '
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/**
 * The pid of the process listening on `port` on this machine (the broker,
 * when it runs here), from `ss -ltnp`; null when the broker is remote, `ss`
 * is missing or the listener belongs to another user.
 */
export function localListenerPid(hostname: string, port: number): number | null {
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(hostname)) return null;
  try {
    const out = execFileSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
    const m = /pid=(\d+)/.exec(out);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** CPU seconds of `pid` spent while `fn` ran, with fn's result. */
export class CpuMeter {
  private readonly start: number | null;
  constructor(private readonly pid: number | null | undefined) {
    this.start = processCpuSeconds(pid ?? undefined);
  }
  /** seconds since construction, or null when unknown */
  seconds(): number | null {
    const now = processCpuSeconds(this.pid ?? undefined);
    return now === null || this.start === null ? null : now - this.start;
  }
}
