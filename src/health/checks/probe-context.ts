// What every check needs: the node it runs on, the store, the settings, the probe account, and how
// to describe a scope that is just this node.
import type { Kysely } from 'kysely';
import type { HealthSettings } from '../../config/schema.ts';
import type { Database } from '../../store/schema.ts';
import type { IssueScope } from '../check-result.ts';

export interface ProbeAccount {
  address: string;
  password: string;
  principalId: number;
}

export interface ProbeContext {
  node: string;
  db: Kysely<Database>;
  settings: HealthSettings;
  now(): number;
  /** The scope of a problem on this node: every tenant it serves. */
  scope(): IssueScope;
}

/** Runs `work` but gives up after `ms`, naming what took too long. */
export async function withinTime<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>(
    (_, reject) =>
      (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${Math.round(ms / 1000)} s`)), ms)),
  );
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Errors that mean nothing listens (the listener check reports those), not that the probe failed. */
export function isRefused(error: unknown): boolean {
  const e = error as NodeJS.ErrnoException | undefined;
  return /ECONNREFUSED/.test(`${e?.code ?? ''} ${e?.message ?? ''}`);
}
