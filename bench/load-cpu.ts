/**
 * CPU time of another process, for `cleave bench load`: on a 2-core box the load generator and
 * the server share the cores, so the bench reports how much each used. Linux only (/proc); other
 * platforms get undefined and the column prints `?`.
 */
import { readFileSync } from 'node:fs';

/**
 * Clock ticks per second of /proc/<pid>/stat times. USER_HZ is 100 on every mainstream Linux
 * build (x86_64, arm64); `getconf CLK_TCK` would say otherwise on an exotic kernel.
 */
const USER_HZ = 100;

/** User + system CPU time of `pid` so far, ms; undefined when it cannot be read. */
export function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined || process.platform !== 'linux') return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: split after its end.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1000) / USER_HZ : undefined;
  } catch {
    return undefined;
  }
}

/** CPU time of the whole machine so far, all cores summed, ms: busy (user, nice, system, irq, softirq, steal) and steal alone. */
export interface MachineCpu {
  readonly busyMs: number;
  /** Time the hypervisor gave this VM's CPUs to someone else. */
  readonly stealMs: number;
}

/** The machine's CPU counters from /proc/stat; undefined off Linux. */
export function machineCpuMs(): MachineCpu | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const [user = 0, nice = 0, system = 0, _idle = 0, _iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
    return { busyMs: ((user + nice + system + irq + softirq + steal) * 1000) / USER_HZ, stealMs: (steal * 1000) / USER_HZ };
  } catch {
    return undefined;
  }
}
