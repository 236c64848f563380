// The quarantine: messages held for being spam, malware or blocked (docs/filtering.md), newest
// first, with why; each released into its recipient's INBOX or deleted (after a confirmation), over
// /admin/quarantine.
import { useEffect, useState } from 'preact/hooks';
import type { PageProps } from './admin-app.tsx';
import { adminApi, when } from './api.ts';
import { OutcomeLine, useConfirm, useRequests } from './common.tsx';

interface Held {
  id: number;
  recipient: string;
  sender: string;
  subject: string | null;
  reason: string;
  detail: string;
  score: number | null;
  receivedAt: number;
  expiresAt: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function QuarantinePage({ admin, onSignedOut }: PageProps) {
  const { outcome, busy, run } = useRequests(onSignedOut);
  const { ask, dialog } = useConfirm();
  const [held, setHeld] = useState<Held[] | undefined>(undefined);
  const load = () =>
    run(() => adminApi(admin, 'GET', 'quarantine?limit=500')).then((found) => found && setHeld(found.value));
  useEffect(() => {
    load();
  }, []);
  /** Releases or deletes a held message; settles once the list is shown again. */
  const act = async (entry: Held, release: boolean) => {
    let reloaded: Promise<unknown> | undefined;
    await run(
      () => adminApi(admin, release ? 'POST' : 'DELETE', `quarantine/${entry.id}${release ? '/release' : ''}`),
      () => {
        reloaded = load();
        return release
          ? `Released ${entry.subject ?? `message ${entry.id}`} to ${entry.recipient}`
          : `Deleted message ${entry.id}`;
      },
    );
    await reloaded;
  };
  return (
    <div class="quarantine-page">
      <OutcomeLine outcome={outcome} />
      {dialog}
      {held && (
        <table class="admin-table">
          <caption>{held.length === 0 ? 'Nothing is held' : `${held.length} held`}</caption>
          <thead>
            <tr>
              <th scope="col">Subject</th>
              <th scope="col">Recipient</th>
              <th scope="col">Sender</th>
              <th scope="col">Why</th>
              <th scope="col">Received</th>
              <th scope="col">Kept until</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {held.map((h) => (
              <tr key={h.id}>
                <th scope="row">{h.subject ?? '(no subject)'}</th>
                <td>{h.recipient}</td>
                <td>{h.sender || '<>'}</td>
                <td>
                  {h.reason}
                  {h.score === null ? '' : ` (score ${h.score})`}
                  <div class="note">{h.detail}</div>
                </td>
                <td>{when(iso(h.receivedAt))}</td>
                <td>{when(iso(h.expiresAt))}</td>
                <td class="row-actions">
                  <button
                    type="button"
                    disabled={busy}
                    onClick={() => act(h, true)}
                    aria-label={`Release message ${h.id}`}
                  >
                    Release
                  </button>
                  <button
                    type="button"
                    disabled={busy}
                    onClick={() =>
                      ask(
                        `Delete message ${h.id}?`,
                        `${h.subject ?? '(no subject)'} from ${h.sender || '<>'} to ${h.recipient} is deleted for good, never delivered.`,
                        'Delete',
                        () => act(h, false),
                      )
                    }
                    aria-label={`Delete message ${h.id}`}
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
