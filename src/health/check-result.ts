// What one check says in one probe round. A check is named by its rule ("listener:Imap@mail1",
// "destination:example.net"); checks that watch this node end in "@<node>", the others (read from
// the shared queue) are the same on every node.
import type { Classification, ComponentId } from './components.ts';

/** healthy; recovering = the fault is gone but its effects drain (a backlog being delivered); failing. */
export type CheckState = 'healthy' | 'recovering' | 'failing';

export interface IssueScope {
  /** Tenant names affected; empty = every tenant. */
  tenants: string[];
  forests: string[];
  regions: string[];
  nodes: string[];
}

export interface CheckResult {
  rule: string;
  component: ComponentId;
  state: CheckState;
  /** One sentence with the current numbers ("3 recipients deferred since 14:02; last reply 421 4.3.2 …"). */
  detail: string;
  latencyMs?: number;
  /** How an issue about this check reads, when it fails. */
  issue?: {
    classification: Classification;
    origin: 'customer' | 'thirdParty';
    title: string;
    impact: string;
    feature: string;
    /** For the public status page: no tenant, address or domain names. */
    publicSummary: string;
    scope: IssueScope;
  };
}

export const nodeRule = (name: string, node: string) => `${name}@${node}`;
