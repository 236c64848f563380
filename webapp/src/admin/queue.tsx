// The queue: recipients waiting or in flight (or every one, finished included), filtered by state
// and destination domain, 50 at a time; retry, hold, release or bounce the message of a row (bounce
// after a confirmation: it cannot be undone).
import { useEffect, useState } from 'preact/hooks';
import type { PageProps } from './admin-app.tsx';
import { adminApi, query, when } from './api.ts';
import { Choice, Field, OutcomeLine, Pager, Section, useConfirm, useRequests } from './common.tsx';

interface Entry {
  messageId: number;
  recipientId: number;
  sender: string;
  recipient: string;
  state: string;
  held: boolean;
  attempts: number;
  nextAttemptAt: string | null;
  lastReply: string | null;
  subject: string | null;
}

/** Why remote mail waits, per destination (GET /admin/queue/insight; global administrators). */
interface Insight {
  destination: string;
  waiting: number;
  deferred: number;
  inFlight: number;
  oldestSince: number;
  attempts: number;
  lastReply: string | null;
  explanation: string;
}

const pageSize = 50;
const verbNames = { retry: 'Retry', hold: 'Hold', release: 'Release', bounce: 'Bounce' };
const states = [
  ['', 'Waiting or in flight'],
  ['queued', 'Queued'],
  ['inflight', 'In flight'],
  ['deferred', 'Deferred'],
  ['delivered', 'Delivered'],
  ['failed', 'Failed'],
] as const;

export function QueuePage({ admin, onSignedOut }: PageProps) {
  const { outcome, busy, run } = useRequests(onSignedOut);
  const { ask, dialog } = useConfirm();
  const [state, setState] = useState('');
  const [domain, setDomain] = useState('');
  const [all, setAll] = useState(false);
  const [filter, setFilter] = useState({ state: '', domain: '', all: false });
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<{ more: boolean; value: Entry[] } | undefined>(undefined);
  const [insight, setInsight] = useState<Insight[] | undefined>(undefined);

  const load = () =>
    run(() =>
      adminApi(admin, 'GET', `queue${query({ ...filter, all: filter.all || undefined, offset, limit: pageSize })}`),
    ).then((found) => found && setPage(found));
  useEffect(() => {
    load();
  }, [filter, offset]);
  useEffect(() => {
    // Beside the list, without touching the page's status line: a failure here only leaves it out.
    if (admin.role === 'global-admin')
      adminApi(admin, 'GET', 'queue/insight')
        .then((found) => setInsight(found.destinations))
        .catch(() => setInsight(undefined));
  }, [page]);

  /** Acts on a row's message; settles once the list is shown again. */
  const act = async (entry: Entry, verb: 'retry' | 'hold' | 'release' | 'bounce') => {
    let reloaded: Promise<unknown> | undefined;
    await run(
      () => adminApi(admin, 'POST', `queue/${entry.messageId}/${verb}`, {}),
      (done: { retried?: number; bounced?: number }) => {
        reloaded = load();
        if (verb === 'retry') return `Message ${entry.messageId}: ${done.retried} recipient(s) will be retried now`;
        if (verb === 'bounce') return `Message ${entry.messageId}: ${done.bounced} recipient(s) bounced`;
        return `Message ${entry.messageId} ${verb === 'hold' ? 'held' : 'released'}`;
      },
    );
    await reloaded;
  };

  return (
    <div class="queue-page">
      <form
        class="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          setOffset(0);
          setFilter({ state, domain: domain.trim(), all });
        }}
      >
        <Choice label="State" value={state} choices={states} onChange={setState} />
        <Field label="Destination domain" name="domain" value={domain} onInput={setDomain} />
        <label class="inline">
          <input type="checkbox" checked={all} onChange={(e) => setAll((e.target as HTMLInputElement).checked)} />
          Include delivered and failed
        </label>
        <button type="submit">Show</button>
        <button type="button" onClick={load}>
          Refresh
        </button>
      </form>
      <OutcomeLine outcome={outcome} />
      {dialog}
      {page && (
        <>
          <table class="admin-table">
            <caption>{page.value.length === 0 ? 'Nothing in the queue' : `Recipients from ${offset + 1}`}</caption>
            <thead>
              <tr>
                <th scope="col">Message</th>
                <th scope="col">Recipient</th>
                <th scope="col">State</th>
                <th scope="col">Attempts</th>
                <th scope="col">Next attempt</th>
                <th scope="col">Sender</th>
                <th scope="col">Last reply</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {page.value.map((e) => (
                <tr key={e.recipientId}>
                  <th scope="row">
                    {e.messageId}
                    <div class="note">{e.subject ?? ''}</div>
                  </th>
                  <td>{e.recipient}</td>
                  <td>{e.held ? `${e.state} (held)` : e.state}</td>
                  <td>{e.attempts}</td>
                  <td>{when(e.nextAttemptAt)}</td>
                  <td>{e.sender || '<>'}</td>
                  <td class="reply">{e.lastReply ?? ''}</td>
                  <td class="row-actions">
                    {(['retry', e.held ? 'release' : 'hold', 'bounce'] as const).map((verb) => (
                      <button
                        key={verb}
                        type="button"
                        disabled={busy}
                        onClick={() =>
                          verb === 'bounce'
                            ? ask(
                                `Bounce message ${e.messageId}?`,
                                `Its recipients still waiting fail now and ${e.sender || 'the sender'} gets a delivery report. This cannot be undone.`,
                                'Bounce',
                                () => act(e, verb),
                              )
                            : act(e, verb)
                        }
                        aria-label={`${verbNames[verb]} message ${e.messageId}`}
                      >
                        {verbNames[verb]}
                      </button>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager offset={offset} size={pageSize} more={page.more} onMove={setOffset} />
        </>
      )}
      {insight && (
        <Section title="Why mail waits">
          {insight.length === 0 ? (
            <p class="empty">No remote mail is waiting.</p>
          ) : (
            <table class="admin-table">
              <thead>
                <tr>
                  <th scope="col">Destination</th>
                  <th scope="col">Waiting</th>
                  <th scope="col">Since</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Last reply</th>
                  <th scope="col">Why</th>
                </tr>
              </thead>
              <tbody>
                {insight.map((i) => (
                  <tr key={i.destination}>
                    <th scope="row">{i.destination}</th>
                    <td>
                      {i.waiting} ({i.deferred} deferred, {i.inFlight} in flight)
                    </td>
                    <td>{when(new Date(i.oldestSince).toISOString())}</td>
                    <td>{i.attempts}</td>
                    <td class="reply">{i.lastReply ?? ''}</td>
                    <td>{i.explanation}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Section>
      )}
    </div>
  );
}
