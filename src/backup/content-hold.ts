// A backup's hold on contents: while it lasts, the content collector deletes nothing
// (store/content-collector.ts), so every content the backup's snapshot refers to is still there
// when the backup comes to copy it. Taken before the snapshot, renewed while the backup runs,
// released at its end; a backup that dies leaves a hold that expires by itself.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';

/** How long a hold lasts without renewal: long enough for a busy store, short if a backup dies. */
export const holdMs = 10 * 60_000;
const renewEveryMs = 60_000;

export interface ContentHold {
  id: string;
  release(): Promise<void>;
}

export async function takeContentHold(db: Kysely<Database>, now: () => number, what: string): Promise<ContentHold> {
  const id = randomUUID();
  const at = now();
  await db
    .insertInto('content_holds')
    .values({ id, holder: `${what} on ${hostname()} (pid ${process.pid})`, created_at: at, expires_at: at + holdMs })
    .execute();
  let renewal: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    // A renewal that fails is tried again at the next tick; the hold lasts ten of them.
    renewal = db
      .updateTable('content_holds')
      .set({ expires_at: now() + holdMs })
      .where('id', '=', id)
      .execute()
      .catch(() => {});
  }, renewEveryMs);
  timer.unref();
  return {
    id,
    async release() {
      clearInterval(timer);
      await renewal;
      await db.deleteFrom('content_holds').where('id', '=', id).execute();
    },
  };
}
