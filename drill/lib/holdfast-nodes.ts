// The drill's Holdfast nodes: the real program (bin/holdfast.js, built from src/), each in its own
// data directory, all on the one database behind HAProxy, listening on free loopback ports.
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type Processes, waitFor } from './processes.ts';

const holdfastBin = fileURLToPath(new URL('../../bin/holdfast.js', import.meta.url));

/** How long a delivery stays leased to a node that stopped renewing it: as contrib/cluster/holdfast.toml. */
export const drillLeaseMs = 30_000;

export interface HoldfastNode {
  name: string;
  dataDir: string;
  ports: Record<string, number>;
  /** The process id of the running program (lease owners are "<host>/<pid>/<random>"). */
  pid: number;
}

export class HoldfastNodes {
  readonly nodes: HoldfastNode[] = [];

  constructor(
    private readonly base: string,
    private readonly processes: Processes,
    private readonly databaseUrl: string,
    count: number,
    /** Added to each node's holdfast.toml. */
    extraToml = '',
  ) {
    for (let i = 1; i <= count; i++) {
      const dataDir = join(base, `holdfast${i}`);
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(
        join(dataDir, 'holdfast.toml'),
        `# Written by the failover drill.\n[queue]\npoll_interval = "200ms"\nlease = "${drillLeaseMs / 1000}s"\n${extraToml}`,
      );
      this.nodes.push({ name: `holdfast${i}`, dataDir, ports: {}, pid: 0 });
    }
  }

  env(node: HoldfastNode): Record<string, string> {
    const env: Record<string, string> = {
      HOLDFAST_CONFIG: join(node.dataDir, 'holdfast.toml'),
      HOLDFAST_DATA_DIR: node.dataDir,
      HOLDFAST_DATABASE_URL: this.databaseUrl,
      HOLDFAST_ADMIN_PASSWORD: 'Keep-Mail-Flowing-42',
      HOLDFAST_HOSTNAME: `${node.name}.drill.example`,
      HOLDFAST_DOMAIN: 'drill.example',
      HOLDFAST_HEALTH: 'false',
      HOLDFAST_BIND: '127.0.0.1',
      HOLDFAST_LOG_FORMAT: 'json',
    };
    for (const name of ['SMTP', 'SUBMISSION', 'SUBMISSIONS', 'IMAP', 'IMAPS', 'POP3', 'POP3S', 'HTTP', 'HTTPS'])
      env[`HOLDFAST_${name}_PORT`] = '0';
    return env;
  }

  /** `holdfast <args>` as the first node's administrator would run it. */
  async cli(args: string[]): Promise<string> {
    const run = promisify(execFile);
    try {
      const { stdout } = await run(process.execPath, [holdfastBin, ...args], {
        env: { ...process.env, ...this.env(this.nodes[0]!) },
      });
      return stdout;
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: string; stderr?: string };
      throw new Error(`holdfast ${args.join(' ')} failed:\n${stdout ?? ''}${stderr ?? ''}`);
    }
  }

  async start(node: HoldfastNode) {
    const log = join(this.base, `${node.name}.log`);
    const offset = fileSize(log);
    const started = this.processes.start(node.name, process.execPath, [holdfastBin, 'start', '--json'], {
      env: this.env(node),
    });
    const summary = await waitFor(
      `${node.name} to start`,
      async () => {
        if (started.child.exitCode !== null)
          throw new Error(`${node.name} exited: ${await this.processes.tail(node.name, 10)}`);
        const text = (await readFile(log, 'utf8')).slice(offset);
        const line = text.split('\n').find((l) => l.startsWith('{') && l.includes('"listeners"'));
        return line ? (JSON.parse(line) as { listeners: { name: string; port: number }[] }) : undefined;
      },
      60_000,
    );
    node.ports = Object.fromEntries(summary.listeners.map((l) => [l.name, l.port]));
    node.pid = started.child.pid!;
  }

  /** The node dies without a word: SIGKILL, as a crashed machine or the OOM killer does it. */
  async kill(node: HoldfastNode) {
    await this.processes.stop(node.name, 'SIGKILL');
    node.ports = {};
  }

  running(): HoldfastNode[] {
    return this.nodes.filter((n) => this.processes.get(n.name));
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
