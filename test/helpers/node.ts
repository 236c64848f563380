// A Holdfast node started in this process on a test backend, with free loopback ports, a DNS stub,
// a controllable clock, and helpers to look into mailboxes and the queue.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.ts';
import { createMailDns } from '../../src/flow/dns.ts';
import { silentLogger, type Logger } from '../../src/logging/logger.ts';
import { allRoles, type Role } from '../../src/server/roles.ts';
import { startNode, type RunningNode } from '../../src/server/start.ts';
import { createBackend, type BackendName, type TestBackend } from './backends.ts';
import { loopbackEnv } from './cli.ts';
import { DnsStub } from './dns-stub.ts';

export const adminPassword = 'Keep-Mail-Flowing-42';

export class TestClock {
  offset = 0;
  now = () => Date.now() + this.offset;
  advance(ms: number) {
    this.offset += ms;
  }
}

export interface TestNode {
  node: RunningNode;
  backend: TestBackend;
  dns: DnsStub;
  clock: TestClock;
  port(name: string): number;
  stop(): Promise<void>;
  /** Messages in a principal's folder, oldest first, with their full text. */
  mailbox(address: string, folder?: string): Promise<{ uid: number; text: string; flags: string }[]>;
  waitFor<T>(check: () => Promise<T | undefined | false>, what: string, timeoutMs?: number): Promise<T>;
}

export async function startTestNode(
  backendName: BackendName,
  options: {
    env?: Record<string, string>;
    toml?: string;
    roles?: Role[];
    backend?: TestBackend;
    dns?: DnsStub;
    clock?: TestClock;
    logger?: Logger;
  } = {},
): Promise<TestNode> {
  const backend = options.backend ?? (await createBackend(backendName));
  const dns = options.dns ?? (await new DnsStub().start());
  const clock = options.clock ?? new TestClock();
  if (options.toml) await writeFile(join(backend.dataDir, 'holdfast.toml'), options.toml);
  const config = loadConfig({
    env: loopbackEnv(backend.dataDir, {
      HOLDFAST_DATABASE_URL: backend.databaseUrl,
      HOLDFAST_ADMIN_PASSWORD: adminPassword,
      HOLDFAST_DNS_SERVERS: dns.server,
      ...options.env,
    }),
    cwd: backend.dataDir,
  });
  const node = await startNode(config, {
    roles: options.roles ?? [...allRoles],
    logger: options.logger ?? silentLogger(),
    now: clock.now,
    dns: createMailDns([dns.server]),
  });
  const { db } = node.holdfast.store;
  return {
    node,
    backend,
    dns,
    clock,
    port: (name) => node.listeners.find((l) => l.name === name)!.port,
    stop: async () => {
      await node.stop();
      dns.stop();
      if (!options.backend) await backend.cleanup();
    },
    async mailbox(address, folder = 'INBOX') {
      const rows = await db
        .selectFrom('messages')
        .innerJoin('mailboxes', 'mailboxes.id', 'messages.mailbox_id')
        .innerJoin('principals', 'principals.id', 'mailboxes.principal_id')
        .select(['messages.uid', 'messages.blob_hash', 'messages.prefix', 'messages.flags'])
        .where('principals.address', '=', address)
        .where('mailboxes.name', '=', folder)
        .orderBy('messages.uid')
        .execute();
      const { readBlob } = await import('../../src/store/blobs/blob-store.ts');
      return Promise.all(
        rows.map(async (r) => ({
          uid: r.uid,
          flags: r.flags,
          text: r.prefix + (await readBlob(node.holdfast.store.blobs, r.blob_hash)).toString('utf8'),
        })),
      );
    },
    async waitFor(check, what, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = await check();
        if (value) return value;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}
