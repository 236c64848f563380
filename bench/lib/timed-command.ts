// Running the commands bench/backup measures, one at a time, with their wall time and CPU time, and
// the helpers around them: bytes on disk, files in a Maildir tree, a few commands run side by side.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Timing {
  seconds: number;
  /** User + system CPU of the command and every child it waited for. */
  cpuSeconds: number;
  stdout: string;
}

/**
 * CPU used by the children this process has waited for (cutime + cstime in /proc/self/stat, clock
 * ticks of 1/100 s). Node waits for each child it started as soon as it ends, so the difference across
 * a step is the CPU of the commands it ran — their threads included (gzip in libuv's pool, for one)
 * and the processes they waited for in turn — as long as nothing else runs meanwhile.
 */
export function childrenCpuSeconds(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8')
    .replace(/^.*\) /, '')
    .split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

export interface Job {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

/**
 * Runs commands to their end, `parallel` at a time, as one measured step: its wall time, and the CPU
 * of all of them. Throws with the output of the first that fails.
 */
export async function timed(jobs: Job[], parallel = 1): Promise<Timing> {
  // Whatever earlier steps left dirty in the page cache is written first, not during the measurement.
  spawnSync('sync');
  const cpuBefore = childrenCpuSeconds();
  const started = performance.now();
  const outputs = await runAll(jobs, parallel);
  const seconds = (performance.now() - started) / 1000;
  return { seconds, cpuSeconds: childrenCpuSeconds() - cpuBefore, stdout: outputs.join('') };
}

/** Bytes the files under `path` take on disk (allocated blocks, as `du` counts them). */
export function diskBytes(path: string): number {
  const result = spawnSync('du', ['-s', '-B1', path], { encoding: 'utf8' });
  return Number(result.stdout.split('\t')[0] ?? 0);
}

/** Message files in the Maildir++ trees under `root` (every user, every folder, cur/ and new/). */
export function maildirMessages(root: string): number {
  let count = 0;
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      if (entry.name === 'cur' || entry.name === 'new') count += readdirSync(join(dir, entry.name)).length;
      else if (entry.name !== 'tmp') walk(join(dir, entry.name));
    }
  };
  walk(root);
  return count;
}

/** Runs `jobs`, `parallel` at a time; their standard outputs in order. Throws with the first failure's output. */
export async function runAll(jobs: Job[], parallel: number): Promise<string[]> {
  const outputs: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const index = next++;
      const job = jobs[index]!;
      outputs[index] = await new Promise<string>((resolve, reject) => {
        const child = spawn(job.command, job.args, { env: job.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('error', reject);
        // 'close', not 'exit': the output has been read to its end.
        child.on('close', (code) =>
          code === 0
            ? resolve(stdout)
            : reject(new Error(`${job.command} ${job.args.join(' ')} failed (exit ${code}): ${stderr}${stdout}`)),
        );
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, jobs.length) }, worker));
  return outputs;
}
