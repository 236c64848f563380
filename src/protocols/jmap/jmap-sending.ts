// What the sending methods (Identity, EmailSubmission) need beyond the mailbox: the directory that
// says who may send as whom, and the mail flow's queue, limits and DKIM keys (flow/local-submission.ts),
// with the client as the Received field names it.
import type { JmapCallContext, JmapSending } from './jmap-context.ts';
import { MethodError } from './jmap-errors.ts';

export const submissionCapability = 'urn:ietf:params:jmap:submission';
export const quotaCapability = 'urn:ietf:params:jmap:quota';

export function sendingOf(context: JmapCallContext): JmapSending {
  if (!context.sending) throw new MethodError('serverUnavailable', 'sending is not available on this listener');
  return context.sending;
}

/** A string of at most `max` characters, or undefined. */
export const boundedString = (value: unknown, max: number) =>
  typeof value === 'string' && value.length <= max ? value : undefined;

/** An EmailAddress[] (RFC 8621 4.1.2.3) or null, checked; undefined when it is not one. */
export function emailAddresses(value: unknown): { name: string | null; email: string }[] | null | undefined {
  if (value === null) return null;
  if (!Array.isArray(value) || value.length > 100) return undefined;
  const out: { name: string | null; email: string }[] = [];
  for (const item of value) {
    if (typeof item !== 'object' || item === null) return undefined;
    const { name, email } = item as { name?: unknown; email?: unknown };
    if (typeof email !== 'string' || email.length > 320 || !/^[^\s@<>]+@[^\s@<>]+$/.test(email)) return undefined;
    if (name !== undefined && name !== null && (typeof name !== 'string' || name.length > 200)) return undefined;
    out.push({ name: typeof name === 'string' ? name : null, email });
  }
  return out;
}
