// CPU time of processes, from /proc (Linux): less at the mercy of other load on a shared machine than
// rates are, so benchmarks report it beside them.
import { readdirSync, readFileSync } from 'node:fs';

/** utime + stime of a process in seconds (clock ticks of 1/100 s); 0 once it has gone. */
export function processCpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
      .replace(/^.*\) /, '')
      .split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** What a process has done so far, for dividing by the work it did (all its threads). */
export interface ProcessActivity {
  userSeconds: number;
  systemSeconds: number;
  /** read-like and write-like system calls (/proc/PID/io syscr + syscw: sockets, files, pipes). */
  syscalls: number;
  /** Times a thread gave up its core, waiting (voluntary) or pre-empted (involuntary). */
  contextSwitches: number;
}

const noActivity: ProcessActivity = { userSeconds: 0, systemSeconds: 0, syscalls: 0, contextSwitches: 0 };

export function processActivity(pid: number): ProcessActivity {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      .replace(/^.*\) /, '')
      .split(' ');
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const ioField = (name: string) => Number(new RegExp(`^${name}: (\\d+)`, 'm').exec(io)?.[1] ?? 0);
    let contextSwitches = 0;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const status = readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8');
      for (const m of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)/gm)) contextSwitches += Number(m[1]);
    }
    return {
      userSeconds: Number(stat[11]) / 100,
      systemSeconds: Number(stat[12]) / 100,
      syscalls: ioField('syscr') + ioField('syscw'),
      contextSwitches,
    };
  } catch {
    return noActivity; // gone
  }
}

/** Sum and difference of activity readings. */
export function addActivity(a: ProcessActivity, b: ProcessActivity, sign = 1): ProcessActivity {
  return {
    userSeconds: a.userSeconds + sign * b.userSeconds,
    systemSeconds: a.systemSeconds + sign * b.systemSeconds,
    syscalls: a.syscalls + sign * b.syscalls,
    contextSwitches: a.contextSwitches + sign * b.contextSwitches,
  };
}

/** Activity of a process and all its children (the workers of `holdfast start --workers N`). */
export function treeActivity(pid: number): ProcessActivity {
  return processTree(pid).reduce((sum, p) => addActivity(sum, processActivity(p)), noActivity);
}

/** A process and its children (the workers of `holdfast start --workers N`), from /proc. */
export function processTree(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    // gone, or a kernel without the children file: the process alone
  }
  return [pid, ...children.flatMap(processTree)];
}

/**
 * CPU used by the processes whose command line contains `marker` (PostgreSQL backends show their
 * database's name there), sampled every 200 ms: backends come and go with the server's pool, and
 * one that ends between two samples loses at most its last 200 ms.
 */
export function watchProcessesCpu(marker: string) {
  const seen = new Map<number, { first: number; last: number }>();
  const sample = () => {
    for (const name of readdirSync('/proc')) {
      const pid = Number(name);
      if (!pid) continue;
      let command = '';
      try {
        command = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      if (!command.includes(marker)) continue;
      const cpu = processCpuSeconds(pid);
      const entry = seen.get(pid);
      if (entry) entry.last = Math.max(entry.last, cpu);
      else seen.set(pid, { first: cpu, last: cpu });
    }
  };
  sample();
  const timer = setInterval(sample, 200);
  timer.unref();
  return {
    /** CPU seconds used since the watch began (backends that started later count from 0). */
    seconds(): number {
      sample();
      let total = 0;
      for (const { first, last } of seen.values()) total += last - first;
      return total;
    },
    stop: () => clearInterval(timer),
  };
}
