// The mail round trip, as a user lives it: a probe message submitted over SMTP (authenticated, like
// a mail app) to the probe mailbox, then an IMAP sign-in and SELECT that must see it within
// [health] probe_timeout. Four checks: submission, sign-in, IMAP, local delivery. The probe message
// carries X-Holdfast-Probe and is deleted once seen.
import { randomBytes } from 'node:crypto';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import type { ListenerInfo } from '../../net/listen.ts';
import { nodeRule, type CheckResult } from '../check-result.ts';
import { isRefused, withinTime, type ProbeAccount, type ProbeContext } from './probe-context.ts';
import { localHost } from './tcp-reachable.ts';

export const probeHeader = 'X-Holdfast-Probe';

export async function probeMail(
  context: ProbeContext,
  listeners: ListenerInfo[],
  account: ProbeAccount,
): Promise<CheckResult[]> {
  const smtp = ['submissions', 'submission'].map((name) => listeners.find((l) => l.name === name)).find(Boolean);
  if (!smtp) return [];
  const results: CheckResult[] = [];
  const token = `${context.node}.${Date.now().toString(36)}.${randomBytes(6).toString('hex')}`;
  const submitted = performance.now();
  try {
    await withinTime(
      nodemailer
        .createTransport({
          host: localHost(smtp.host),
          port: smtp.port,
          secure: smtp.name === 'submissions',
          requireTLS: smtp.name === 'submission',
          tls: { rejectUnauthorized: false }, // this node's own certificate, on loopback
          auth: { user: account.address, pass: account.password },
        })
        .sendMail({
          from: account.address,
          to: account.address,
          subject: `Holdfast probe ${token}`,
          text: 'A synthetic probe of mail flow. It is deleted once seen.',
          headers: { [probeHeader]: token },
        }),
      context.settings.probeTimeoutMs,
      'submitting the probe message',
    );
    results.push(
      submission(
        context,
        'healthy',
        `The probe message was accepted in ${Math.round(performance.now() - submitted)} ms.`,
      ),
    );
  } catch (error) {
    if (isRefused(error)) return []; // the listener check reports it
    const reply = (error as { response?: string }).response ?? (error as Error).message;
    if ((error as { responseCode?: number }).responseCode === 535)
      return [signIn(context, 'failing', `Submission refused the probe account's password: ${reply}`)];
    return [submission(context, 'failing', `Submitting the probe message failed: ${reply}.`)];
  }

  const imap = ['imaps', 'imap'].map((name) => listeners.find((l) => l.name === name)).find(Boolean);
  if (!imap) return results;
  const client = new ImapFlow({
    host: localHost(imap.host),
    port: imap.port,
    secure: imap.name === 'imaps',
    doSTARTTLS: imap.name === 'imap' ? true : undefined,
    tls: { rejectUnauthorized: false },
    auth: { user: account.address, pass: account.password },
    logger: false,
    disableAutoIdle: true,
  });
  client.on('error', () => {}); // a dropped connection shows as a failed step below
  try {
    try {
      await withinTime(client.connect(), context.settings.probeTimeoutMs, 'IMAP sign-in');
    } catch (error) {
      if (isRefused(error)) return results;
      if ((error as { authenticationFailed?: boolean }).authenticationFailed) {
        return [
          ...results,
          signIn(
            context,
            'failing',
            `IMAP refused the probe account's password: ${(error as { responseText?: string }).responseText ?? (error as Error).message}`,
          ),
        ];
      }
      return [...results, imapCheck(context, 'failing', `IMAP sign-in did not complete: ${(error as Error).message}.`)];
    }
    results.push(signIn(context, 'healthy', 'The probe account signed in over IMAP.'));
    const selected = performance.now();
    try {
      await withinTime(client.mailboxOpen('INBOX'), context.settings.probeTimeoutMs, 'IMAP SELECT');
      results.push(imapCheck(context, 'healthy', `SELECT INBOX took ${Math.round(performance.now() - selected)} ms.`));
    } catch (error) {
      return [...results, imapCheck(context, 'failing', `SELECT INBOX failed: ${(error as Error).message}.`)];
    }
    const deadline = Date.now() + context.settings.probeTimeoutMs;
    let seen = false;
    while (!seen && Date.now() < deadline) {
      const found = await client.search({ header: { [probeHeader]: token } }, { uid: true });
      seen = Array.isArray(found) && found.length > 0;
      if (!seen) await new Promise((r) => setTimeout(r, 200));
    }
    const latencyMs = Math.round(performance.now() - submitted);
    results.push(
      seen
        ? delivery(
            context,
            'healthy',
            `The probe message reached the mailbox ${latencyMs} ms after submission.`,
            latencyMs,
          )
        : delivery(
            context,
            'failing',
            `The probe message submitted ${Math.round(latencyMs / 1000)} s ago has not reached the probe mailbox.`,
            latencyMs,
          ),
    );
    // Probe messages never pile up, this one or late ones from earlier rounds.
    if ((client.mailbox && typeof client.mailbox === 'object' ? client.mailbox.exists : 0) > 0)
      await client.messageDelete('1:*').catch(() => {});
  } finally {
    await client.logout().catch(() => client.close());
  }
  return results;
}

function submission(context: ProbeContext, state: CheckResult['state'], detail: string): CheckResult {
  return {
    rule: nodeRule('probe:submission', context.node),
    component: 'Submission',
    state,
    detail,
    issue: {
      classification: 'incident',
      origin: 'customer',
      title: `Mail submission fails on ${context.node}`,
      impact: 'Users and applications cannot send mail.',
      feature: 'Mail submission',
      publicSummary: 'Sending mail fails on one server',
      scope: context.scope(),
    },
  };
}

function signIn(context: ProbeContext, state: CheckResult['state'], detail: string): CheckResult {
  return {
    rule: nodeRule('probe:sign-in', context.node),
    component: 'Directory',
    state,
    detail,
    issue: {
      classification: 'incident',
      origin: 'customer',
      title: `Sign-in fails on ${context.node}`,
      impact: 'Users cannot sign in to read or send mail.',
      feature: 'Sign-in',
      publicSummary: 'Sign-in fails on one server',
      scope: context.scope(),
    },
  };
}

function imapCheck(context: ProbeContext, state: CheckResult['state'], detail: string): CheckResult {
  return {
    rule: nodeRule('probe:imap', context.node),
    component: 'Imap',
    state,
    detail,
    issue: {
      classification: 'incident',
      origin: 'customer',
      title: `Mailboxes cannot be opened over IMAP on ${context.node}`,
      impact: 'Mail apps cannot open mailboxes.',
      feature: 'Mailbox access',
      publicSummary: 'Opening mailboxes fails on one server',
      scope: context.scope(),
    },
  };
}

function delivery(context: ProbeContext, state: CheckResult['state'], detail: string, latencyMs: number): CheckResult {
  return {
    rule: nodeRule('probe:delivery', context.node),
    component: 'LocalDelivery',
    state,
    detail,
    latencyMs,
    issue: {
      classification: 'incident',
      origin: 'customer',
      title: 'Mail is not being delivered to mailboxes',
      impact:
        'Messages are accepted but do not appear in mailboxes; they are kept in the queue and delivered when this clears.',
      feature: 'Delivery to mailboxes',
      publicSummary: 'New mail is not reaching mailboxes',
      scope: context.scope(),
    },
  };
}
