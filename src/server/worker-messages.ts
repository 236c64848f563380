// What the primary process and its workers (`holdfast start --workers N`) tell each other over the
// cluster's IPC channel. Every message carries `holdfast` so that nothing else on the channel (Node's
// own cluster messages) is mistaken for one.
import type { ErrorKind } from '../errors.ts';
import type { DestinationAnswer, DestinationRequest } from '../flow/delivery/machine-destinations.ts';
import type { Figure } from '../metrics/machine-metrics.ts';
import type { ListenerInfo } from '../net/listen.ts';
import type { Role } from './roles.ts';

/** The environment variable that tells a worker its number (1…N); a restarted worker keeps its number. */
export const workerIndexVariable = 'HOLDFAST_WORKER_INDEX';
/** The environment variable that tells a worker how many workers share the machine. */
export const workerCountVariable = 'HOLDFAST_WORKER_COUNT';

export type WorkerMessage =
  /** The worker serves: its listeners (the same ports in every worker) for the start-up summary. */
  | { holdfast: 'ready'; roles: Role[]; listeners: ListenerInfo[] }
  /** The worker could not start: the primary reports this error, as a single process would. */
  | { holdfast: 'failed'; error: { kind?: ErrorKind; code?: string; message: string; stack?: string } }
  /** A mailbox change (ChangeFeed's relay message), for the other workers' IDLE sessions. */
  | { holdfast: 'change'; message: string }
  /** Take one of `max` machine-wide slots of kind + key (a connection, a session); answered by 'taken' with the same id. */
  | { holdfast: 'take'; id: number; kind: LimitKind; key: string; max: number }
  /** Give back a slot the primary granted this worker (the connection or session ended). */
  | { holdfast: 'give'; kind: LimitKind; key: string }
  /** A scrape of /metrics: the other workers' figures, please; answered by 'metrics-gathered' with the same id. */
  | { holdfast: 'metrics-ask'; id: number }
  /** The answer to the primary's 'metrics-collect' with this id: this worker's figures (absent: it could not read them). */
  | { holdfast: 'metrics-report'; id: number; figures?: Figure[] }
  /** Machine-wide delivery concurrency: slots for remote destinations (machine-destinations.ts). */
  | DestinationRequest;

export type PrimaryMessage =
  | { holdfast: 'change'; message: string }
  /** The answer to the worker's 'take' with this id: whether it now holds the slot. */
  | { holdfast: 'taken'; id: number; granted: boolean }
  /** Another worker is answering a scrape: this worker's figures, please ('metrics-report' with this id). */
  | { holdfast: 'metrics-collect'; id: number }
  /** The answer to the worker's 'metrics-ask' with this id: the figures of the others that answered in time. */
  | { holdfast: 'metrics-gathered'; id: number; figures: Figure[][]; missing: number }
  /** Machine-wide delivery concurrency: grants and each destination's state (machine-destinations.ts). */
  | DestinationAnswer;

/**
 * The limits counted per machine under --workers: SMTP connections per client address
 * (smtp.max_connections_per_ip), SMTP connections per resource forest (the forest's
 * --max-connections; key: the forest's id) and IMAP sessions per user (imap.max_connections_per_user).
 */
export type LimitKind = 'smtp-ip' | 'smtp-forest' | 'imap-user';

export function isHoldfastMessage<T extends { holdfast: string }>(value: unknown): value is T {
  return typeof value === 'object' && value !== null && typeof (value as { holdfast?: unknown }).holdfast === 'string';
}
