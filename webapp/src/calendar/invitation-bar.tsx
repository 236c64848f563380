// In the reading pane: a meeting invitation mail (a text/calendar part with METHOD:REQUEST, iMIP)
// offers Accept / Tentative / Decline. The answer is the user's copy of the event on their calendar
// stored with the new PARTSTAT over CalDAV (respond.ts, loaded with the calendar's chunk when
// clicked); the server's scheduling then tells the organizer. Part of the first load: small, no ical.js.
import { useEffect, useState } from 'preact/hooks';
import type { BodyPart, EmailFull, Jmap } from '../jmap.ts';

/** The message's text/calendar part, if it has one. */
export const calendarPartOf = (email: EmailFull): BodyPart | undefined =>
  [...email.attachments, ...email.textBody, ...email.htmlBody].find(
    (p) => p.blobId && p.type.toLowerCase() === 'text/calendar',
  );

export function InvitationBar(props: { jmap: Jmap; part: BodyPart }) {
  const { jmap, part } = props;
  const [data, setData] = useState<string | null>(null);
  const [answer, setAnswer] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    setData(null);
    fetch(jmap.downloadHref(part.blobId!, part.name, part.type), { credentials: 'same-origin' })
      .then((response) => (response.ok ? response.text() : ''))
      .then((text) => setData(text.slice(0, 1_000_000)))
      .catch(() => setData(''));
  }, [part.blobId]);
  // Unfolded lines: METHOD:REQUEST is an invitation (REPLY, CANCEL and the rest are not answered).
  if (!data || !/^METHOD:REQUEST\s*$/im.test(data.replace(/\r?\n[ \t]/g, ''))) return null;
  const respond = async (partstat: string, label: string) => {
    setBusy(true);
    setError('');
    try {
      const { respondToInvitation } = await import('./respond.ts');
      await respondToInvitation(data, partstat);
      setAnswer(label);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <fieldset class="invitation-bar">
      <legend class="visually-hidden">Invitation</legend>
      <p>{answer ? `You answered: ${answer}` : 'This is an invitation to a meeting.'}</p>
      <button type="button" class="primary" disabled={busy} onClick={() => respond('ACCEPTED', 'Accepted')}>
        Accept
      </button>
      <button type="button" disabled={busy} onClick={() => respond('TENTATIVE', 'Tentative')}>
        Tentative
      </button>
      <button type="button" disabled={busy} onClick={() => respond('DECLINED', 'Declined')}>
        Decline
      </button>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </fieldset>
  );
}
