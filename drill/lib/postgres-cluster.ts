// Brings up (and takes down) the drill's database cluster: three etcd members, three PostgreSQL
// instances under Patroni, HAProxy in front. Also the failures the drill injects into it.
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import {
  type ClusterLayout,
  drillLayout,
  etcdArgs,
  haproxyConfig,
  type PostgresMember,
  patroniYaml,
} from './cluster-config.ts';
import { type Processes, waitFor } from './processes.ts';

export interface Member {
  name: string;
  role: string;
  state: string;
  lag?: number | string;
}

const postgresUser = 'postgres';

export class PostgresCluster {
  readonly layout: ClusterLayout;

  constructor(
    private readonly base: string,
    private readonly processes: Processes,
  ) {
    this.layout = drillLayout(base);
  }

  /** A URL reaching the primary through HAProxy. */
  url(database = 'postgres'): string {
    return `postgres://postgres:${this.layout.superuserPassword}@127.0.0.1:${this.layout.haproxyPort}/${database}`;
  }

  async start() {
    const { layout } = this;
    for (const member of layout.etcd) {
      const dir = join(this.base, member.name);
      mkdirSync(dir, { recursive: true });
      this.processes.start(member.name, 'etcd', etcdArgs(layout, member, dir));
    }
    await waitFor('etcd to elect a leader', () => this.etcdLeader(), 30_000);

    const postgresIds = await ids(postgresUser);
    for (const member of layout.postgres) this.writePatroniConfig(member, postgresIds);
    // The first member bootstraps alone so that it is the one that runs initdb; the others clone it.
    this.startPatroni(layout.postgres[0]!);
    await waitFor('the first PostgreSQL to become primary', async () =>
      (await this.members()).some((m) => m.role === 'leader' && m.state === 'running') ? true : undefined,
    );
    for (const member of layout.postgres.slice(1)) this.startPatroni(member);
    await this.waitHealthy(180_000);

    writeFileSync(join(this.base, 'haproxy.cfg'), haproxyConfig(layout));
    this.processes.start('haproxy', 'haproxy', ['-db', '-f', join(this.base, 'haproxy.cfg')]);
    // HAProxy starts with every server up until its checks say otherwise (fall 2 × inter 1s): until
    // then a connection may land on a standby. Wait until several in a row reach the primary.
    await waitFor('HAProxy to send connections to the primary only', async () => {
      for (let i = 0; i < 6; i++) {
        const { rows } = await this.query('select pg_is_in_recovery() as standby');
        if (rows[0].standby) return undefined;
      }
      return true;
    });
  }

  private writePatroniConfig(member: PostgresMember, owner: { uid: number; gid: number }) {
    const dir = join(member.dataDir, '..');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const socketDir = join(dir, 'socket');
    mkdirSync(socketDir, { recursive: true });
    const config = join(dir, 'patroni.yml');
    writeFileSync(config, patroniYaml(this.layout, member, socketDir));
    for (const path of [dir, socketDir, config]) chownSync(path, owner.uid, owner.gid);
  }

  startPatroni(member: PostgresMember) {
    this.processes.start(member.name, 'patroni', [join(member.dataDir, '..', 'patroni.yml')], { user: postgresUser });
  }

  /** A primary, a synchronous standby and a second replica, all running. */
  async waitHealthy(timeoutMs = 120_000): Promise<Member[]> {
    return waitFor(
      'Patroni to report a primary, a synchronous standby and a replica',
      async () => {
        const members = await this.members();
        const running = members.filter((m) => m.state === 'running' || m.state === 'streaming');
        return running.length === 3 &&
          members.some((m) => m.role === 'leader') &&
          members.some((m) => m.role === 'sync_standby')
          ? members
          : undefined;
      },
      timeoutMs,
    );
  }

  /** The members as Patroni sees them, asked of any member that answers. */
  async members(): Promise<Member[]> {
    for (const member of this.layout.postgres) {
      try {
        const response = await fetch(`http://127.0.0.1:${member.restPort}/cluster`, {
          signal: AbortSignal.timeout(2000),
        });
        const body = (await response.json()) as { members: Member[] };
        return body.members;
      } catch {
        // that one is down; ask the next
      }
    }
    return [];
  }

  async primary(): Promise<PostgresMember | undefined> {
    const leader = (await this.members()).find((m) => m.role === 'leader');
    return this.layout.postgres.find((m) => m.name === leader?.name);
  }

  /** The name of etcd's current leader, if the members agree on one. */
  async etcdLeader(): Promise<string | undefined> {
    for (const member of this.layout.etcd) {
      try {
        const response = await fetch(`http://127.0.0.1:${member.clientPort}/v3/maintenance/status`, {
          method: 'POST',
          body: '{}',
          signal: AbortSignal.timeout(2000),
        });
        const status = (await response.json()) as { leader?: string; header?: { member_id?: string } };
        if (!status.leader) continue;
        const list = await fetch(`http://127.0.0.1:${member.clientPort}/v3/cluster/member/list`, {
          method: 'POST',
          body: '{}',
          signal: AbortSignal.timeout(2000),
        });
        const { members } = (await list.json()) as { members: { ID: string; name: string }[] };
        return members.find((m) => m.ID === status.leader)?.name;
      } catch {
        // ask the next
      }
    }
    return undefined;
  }

  /** The whole primary host dies: Patroni and PostgreSQL killed with SIGKILL, nothing said to anyone. */
  async killPrimaryHost(): Promise<PostgresMember> {
    const primary = await this.primary();
    if (!primary) throw new Error('no primary to kill');
    const postmaster = await postmasterPid(primary);
    await this.processes.stop(primary.name, 'SIGKILL');
    if (postmaster) killQuietly(postmaster, 'SIGKILL');
    return primary;
  }

  /**
   * The PostgreSQL primary crashes: the postmaster and every backend killed with SIGKILL (a postmaster
   * killed alone leaves its backends serving the connections they have). Its Patroni lives on.
   */
  async killPrimaryPostgres(): Promise<PostgresMember> {
    const primary = await this.primary();
    if (!primary) throw new Error('no primary to kill');
    const postmaster = await postmasterPid(primary);
    if (!postmaster) throw new Error(`no postmaster.pid for ${primary.name}`);
    // Patroni starts PostgreSQL in a session of its own: the postmaster leads its process group.
    killQuietly(-postmaster, 'SIGKILL');
    killQuietly(postmaster, 'SIGKILL');
    return primary;
  }

  async query(text: string, database = 'postgres') {
    const client = new pg.Client({ connectionString: this.url(database), connectionTimeoutMillis: 3000 });
    await client.connect();
    try {
      return await client.query(text);
    } finally {
      await client.end();
    }
  }

  /** Stops Patroni (which stops its PostgreSQL) and leaves no postmaster behind. */
  async stop() {
    await this.processes.stop('haproxy', 'SIGTERM', 5000);
    for (const member of this.layout.postgres) {
      await this.processes.stop(member.name, 'SIGTERM', 20_000);
      const postmaster = await postmasterPid(member);
      if (postmaster) killQuietly(postmaster, 'SIGKILL');
    }
    for (const member of this.layout.etcd) await this.processes.stop(member.name, 'SIGTERM', 5000);
  }
}

async function postmasterPid(member: PostgresMember): Promise<number | undefined> {
  const text = await readFile(join(member.dataDir, 'postmaster.pid'), 'utf8').catch(() => '');
  const pid = Number(text.split('\n')[0]);
  return pid > 0 ? pid : undefined;
}

function killQuietly(pid: number, signal: NodeJS.Signals) {
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}

async function ids(user: string): Promise<{ uid: number; gid: number }> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  const fields = passwd
    .split('\n')
    .find((line) => line.startsWith(`${user}:`))
    ?.split(':');
  if (!fields) throw new Error(`no ${user} account on this machine (PostgreSQL will not run as root)`);
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}
