// What every CalDAV method handler shares: the request as the handler sees it, the reply it returns,
// the context of the signed-in principal, and the XML reply shape. Apart from dav-handler.ts so that
// the method modules and the dispatcher that imports them do not import each other.
import type { Kysely } from 'kysely';
import type { Scheduler } from '../../calendar/scheduling/scheduler.ts';
import type { Principal } from '../../directory/directory.ts';
import type { Logger } from '../../logging/logger.ts';
import type { Database } from '../../store/schema.ts';
import type { DavResource } from './dav-resources.ts';

export interface DavRequest {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
  body: string;
}

export interface DavReply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface DavContext {
  db: Kysely<Database>;
  viewer: Principal;
  now(): number;
  maxResourceSize: number;
  /** The client asked for `Prefer: return=minimal` (or the older `Brief: t`): no 404 propstats. */
  preferMinimal: boolean;
  scheduler: Scheduler;
  log: Logger;
}

export type MethodHandler = (context: DavContext, resource: DavResource, request: DavRequest) => Promise<DavReply>;

export const xmlReply = (status: number, body: string, headers: Record<string, string> = {}): DavReply => ({
  status,
  headers: { 'Content-Type': 'application/xml; charset=utf-8', ...headers },
  body,
});
