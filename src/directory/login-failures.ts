// The store's record of failed sign-ins (table login_failures): one counter per (source address,
// account) and one per source address (account ''). A counter starts again from one when its last
// failure is older than `forgetAfterMs`. The policy that reads them is login-throttle.ts.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';

/** The counter of every failure from one source, whatever account it named. */
export const anyAccount = '';

export interface FailureCount {
  failures: number;
  lastFailureAt: number;
}

/** What the throttle needs to judge one attempt. */
export interface FailuresSeen {
  fromSource?: FailureCount;
  forPair?: FailureCount;
  /** Every source's failures for the account, added up; lastFailureAt is the latest. */
  forAccount?: FailureCount;
}

export class LoginFailures {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly forgetAfterMs: number,
  ) {}

  async seen(source: string, account: string, now: number): Promise<FailuresSeen> {
    const rows = await this.db
      .selectFrom('login_failures')
      .selectAll()
      .where('last_failure_at', '>', now - this.forgetAfterMs)
      .where((eb) =>
        eb.or([
          eb.and([eb('source', '=', source), eb('account', 'in', [anyAccount, account])]),
          eb('account', '=', account),
        ]),
      )
      .execute();
    const count = (row: (typeof rows)[number] | undefined) =>
      row && { failures: Number(row.failures), lastFailureAt: Number(row.last_failure_at) };
    const forAccount = rows.filter((r) => r.account === account);
    return {
      fromSource: count(rows.find((r) => r.source === source && r.account === anyAccount)),
      forPair: count(rows.find((r) => r.source === source && r.account === account)),
      forAccount: forAccount.length
        ? {
            failures: forAccount.reduce((sum, r) => sum + Number(r.failures), 0),
            lastFailureAt: Math.max(...forAccount.map((r) => Number(r.last_failure_at))),
          }
        : undefined,
    };
  }

  /** Counts one failure for the source and for the (source, account) pair. */
  async record(source: string, account: string, now: number): Promise<void> {
    const stale = now - this.forgetAfterMs;
    for (const key of [anyAccount, account]) {
      await this.db
        .insertInto('login_failures')
        .values({ source, account: key, failures: 1, last_failure_at: now })
        .onConflict((oc) =>
          oc.columns(['source', 'account']).doUpdateSet({
            failures: sql`case when login_failures.last_failure_at <= ${stale} then 1 else login_failures.failures + 1 end`,
            last_failure_at: now,
          }),
        )
        .execute();
    }
  }

  /** Forgets the failures of one source for one account (after it signed in). */
  async forgetPair(source: string, account: string): Promise<void> {
    await this.db.deleteFrom('login_failures').where('source', '=', source).where('account', '=', account).execute();
  }

  /** Forgets every failure naming the account; how many sources had some. */
  async forgetAccount(account: string): Promise<number> {
    const result = await this.db.deleteFrom('login_failures').where('account', '=', account).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Deletes counters nobody would read any more. */
  async prune(now: number): Promise<void> {
    await this.db
      .deleteFrom('login_failures')
      .where('last_failure_at', '<=', now - this.forgetAfterMs)
      .execute();
  }
}
