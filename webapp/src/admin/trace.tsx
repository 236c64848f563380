// Message trace: messages by sender, recipient, Message-ID and time of receipt, newest first, each
// with what happened to it step by step (received, queued, attempts, delivered, deferred, bounced…).
import { useState } from 'preact/hooks';
import type { PageProps } from './admin-app.tsx';
import { adminApi, query, when } from './api.ts';
import { Field, OutcomeLine, useRequests } from './common.tsx';

interface TraceEvent {
  at: string;
  event: string;
  recipient?: string;
  reply?: string;
  client?: string;
}

interface Traced {
  id: number;
  sender: string;
  subject: string | null;
  messageIdHeader: string | null;
  receivedAt: string;
  events: TraceEvent[];
}

/** A datetime-local input's value as an ISO time (the browser's time zone). */
const isoOf = (local: string) => (local ? new Date(local).toISOString() : undefined);

export function TracePage({ admin, onSignedOut }: PageProps) {
  const { outcome, busy, run } = useRequests(onSignedOut);
  const [sender, setSender] = useState('');
  const [recipient, setRecipient] = useState('');
  const [messageId, setMessageId] = useState('');
  const [since, setSince] = useState('');
  const [until, setUntil] = useState('');
  const [found, setFound] = useState<Traced[] | undefined>(undefined);

  const search = (event: Event) => {
    event.preventDefault();
    run(
      () =>
        adminApi(
          admin,
          'GET',
          `trace${query({
            sender: sender.trim(),
            recipient: recipient.trim(),
            messageId: messageId.trim(),
            since: isoOf(since),
            until: isoOf(until),
          })}`,
        ),
      (answer: { value: Traced[] }) => {
        setFound(answer.value);
        return answer.value.length === 1 ? '1 message found' : `${answer.value.length} messages found`;
      },
    );
  };

  return (
    <div class="trace-page">
      <form class="toolbar" onSubmit={search}>
        <Field label="Sender" name="sender" value={sender} onInput={setSender} />
        <Field label="Recipient" name="recipient" value={recipient} onInput={setRecipient} />
        <Field label="Message-ID" name="message-id" value={messageId} onInput={setMessageId} />
        <Field label="Received after" name="since" type="datetime-local" value={since} onInput={setSince} />
        <Field label="Received before" name="until" type="datetime-local" value={until} onInput={setUntil} />
        <button type="submit" class="primary" disabled={busy}>
          Trace
        </button>
      </form>
      <OutcomeLine outcome={outcome} />
      {found?.map((m) => (
        <article class="traced" key={m.id} aria-labelledby={`traced-${m.id}`}>
          <h2 id={`traced-${m.id}`}>
            {m.subject ?? '(no subject)'} <span class="note">message {m.id}</span>
          </h2>
          <p class="note">
            from &lt;{m.sender}&gt; · received {when(m.receivedAt)} · {m.messageIdHeader ?? 'no Message-ID'}
          </p>
          <ol class="timeline">
            {m.events.map((e, i) => (
              <li key={i}>
                <time dateTime={e.at}>{when(e.at)}</time> <strong>{e.event}</strong>{' '}
                {e.recipient ?? (e.client ? `from ${e.client}` : '')} {e.reply ?? ''}
              </li>
            ))}
          </ol>
        </article>
      ))}
    </div>
  );
}
