// Who holds the queue's leases now: recipients in flight per lease owner ("<host>/<pid>/<random>",
// queue-runner.ts), for `holdfast cluster status` to show against the nodes.
import type { Kysely } from 'kysely';
import type { Database } from '../../store/schema.ts';

export interface LeaseOwner {
  owner: string;
  host: string;
  pid: number;
  recipients: number;
  /** The latest expiry among its leases. */
  expiresAt: number;
}

export async function leasesByOwner(db: Kysely<Database>): Promise<LeaseOwner[]> {
  const rows = await db
    .selectFrom('queue_recipients')
    .select((eb) => [
      'lease_owner',
      eb.fn.countAll<number>().as('recipients'),
      eb.fn.max('lease_expires_at').as('expires_at'),
    ])
    .where('state', '=', 'inflight')
    .where('lease_owner', 'is not', null)
    .groupBy('lease_owner')
    .execute();
  return rows.map((r) => {
    const [host = '', pid = ''] = r.lease_owner!.split('/');
    return {
      owner: r.lease_owner!,
      host,
      pid: Number(pid),
      recipients: Number(r.recipients),
      expiresAt: Number(r.expires_at),
    };
  });
}
