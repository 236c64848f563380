// bench/cluster-takeover: how long a singleton job (housekeeping) takes to move to another node, with
// real processes (`holdfast start`) sharing one store and the default [cluster] settings (heartbeat
// 2 s, lease 10 s): a holder that hangs (SIGSTOP: no heartbeat, no renewal, nothing released) and
// one that stops cleanly (SIGTERM, which releases its leases). The hung holder is then woken
// (SIGCONT): it must not get its leases back nor keep its token. Prints each round and the median.
//
//   node --import tsx bench/cluster-takeover.ts [--rounds 3] [--nodes 3] [--database postgres://…]
import { benchArgs } from './lib/bench-args.ts';
import { storeName } from './lib/bench-store.ts';
import { withInstallation, type HoldfastProcess, type Installation } from './lib/holdfast-process.ts';

const { values } = benchArgs(import.meta.url, {
  rounds: { type: 'string', default: '3' },
  nodes: { type: 'string', default: '3' },
});
const rounds = Number(values.rounds);
const nodeCount = Number(values.nodes);
const job = 'housekeeping';

interface Holder {
  holder: string | null;
  token: number;
  expires_at: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function holderOf(installation: Installation): Promise<Holder | undefined> {
  const rows = await installation.store.query<Holder>(
    'select holder, token, expires_at from singleton_leases where name = ?',
    job,
  );
  const row = rows[0];
  return row && { holder: row.holder, token: Number(row.token), expires_at: Number(row.expires_at) };
}

async function pidOf(installation: Installation, node: string): Promise<number> {
  const rows = await installation.store.query<{ pid: number }>('select pid from cluster_nodes where id = ?', node);
  return Number(rows[0]!.pid);
}

/** Waits until a node other than `old` holds the job's lease, unexpired; returns it and the time taken. */
async function takenOver(installation: Installation, old: string, since: number) {
  for (;;) {
    const now = Date.now();
    const h = await holderOf(installation);
    if (h?.holder && h.holder !== old && h.expires_at > now) return { holder: h, ms: now - since };
    if (now - since > 120_000) throw new Error('no takeover within 2 minutes');
    await sleep(20);
  }
}

await withInstallation(values.database, async (installation) => {
  const nodes: HoldfastProcess[] = [];
  for (let i = 0; i < nodeCount; i++) nodes.push(await installation.start());
  const byPid = (pid: number) => nodes.find((n) => n.child.pid === pid)!;
  const settled = async () => {
    for (;;) {
      const h = await holderOf(installation);
      if (h?.holder && h.expires_at > Date.now()) return h;
      await sleep(100);
    }
  };
  const hung: number[] = [];
  const clean: number[] = [];
  console.log(`${storeName(values.database)}, ${nodeCount} nodes, default [cluster] settings`);
  for (let round = 1; round <= rounds; round++) {
    let before = await settled();
    let holder = byPid(await pidOf(installation, before.holder!));
    holder.child.kill('SIGSTOP');
    const stoppedAt = Date.now();
    const after = await takenOver(installation, before.holder!, stoppedAt);
    hung.push(after.ms);
    holder.child.kill('SIGCONT');
    // Woken: it renews at its next heartbeat and must find the lease taken.
    await sleep(5000);
    const woken = await holderOf(installation);
    const kept = woken?.holder === after.holder.holder && woken?.token === after.holder.token;
    console.log(
      `round ${round}: hung holder (SIGSTOP) replaced after ${after.ms} ms (token ${before.token} -> ${after.holder.token}); woken, it ${kept ? 'left the lease to the new holder' : 'TOOK THE LEASE BACK'}`,
    );

    before = await settled();
    holder = byPid(await pidOf(installation, before.holder!));
    const termAt = Date.now();
    await holder.stop();
    const next = await takenOver(installation, before.holder!, termAt);
    clean.push(next.ms);
    console.log(`round ${round}: holder stopped (SIGTERM) replaced after ${next.ms} ms`);
    nodes.splice(nodes.indexOf(holder), 1);
    nodes.push(await installation.start());
  }
  console.log(
    `median: hung holder replaced after ${median(hung)} ms, cleanly stopped holder after ${median(clean)} ms`,
  );
});
