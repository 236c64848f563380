// The mail view: folders with unread counts, a folder's messages newest first (more load as the list
// scrolls), the reading pane, and the composer. Everything goes through JMAP (jmap.ts); push over
// EventSource tells of new mail and of changes made elsewhere, and the view reads them again.
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import {
  type EmailAddress,
  type EmailFull,
  type EmailSummary,
  formatAddress,
  type Identity,
  Jmap,
  type Mailbox,
  type Me,
  parseAddresses,
  SignedOut,
  signOut,
} from './jmap.ts';
import { MessageFrame } from './message-frame.tsx';

const pageSize = 50;
const summaryProperties = [
  'id',
  'threadId',
  'mailboxIds',
  'keywords',
  'from',
  'to',
  'subject',
  'receivedAt',
  'preview',
  'hasAttachment',
];
const fullProperties = [
  ...summaryProperties,
  'cc',
  'replyTo',
  'sentAt',
  'messageId',
  'references',
  'textBody',
  'htmlBody',
  'attachments',
  'bodyValues',
];

const roleNames: Record<string, string> = {
  inbox: 'Inbox',
  drafts: 'Drafts',
  sent: 'Sent',
  trash: 'Trash',
  junk: 'Junk',
  archive: 'Archive',
};
const roleOrder = ['inbox', 'drafts', 'sent', 'archive', 'junk', 'trash'];

interface Draft {
  to: string;
  cc: string;
  subject: string;
  body: string;
  inReplyTo: string[] | null;
  references: string[] | null;
}

interface ListState {
  mailboxId: string;
  ids: string[];
  total: number;
  loading: boolean;
}

export function MailView(props: { me: Me; onSignedOut(): void }) {
  const jmap = useMemo(() => new Jmap(props.me), [props.me]);
  const [ready, setReady] = useState(false);
  const [mailboxes, setMailboxes] = useState<Mailbox[]>([]);
  const [list, setList] = useState<ListState>({ mailboxId: '', ids: [], total: 0, loading: false });
  const [emails, setEmails] = useState<Record<string, EmailSummary>>({});
  const [selected, setSelected] = useState<string | null>(null);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [status, setStatus] = useState('');
  const listRef = useRef(list);
  listRef.current = list;

  /** Runs an action; a SignedOut ends the view, other errors are shown. */
  const guard = useCallback(
    async <T,>(action: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await action();
      } catch (e) {
        if (e instanceof SignedOut) props.onSignedOut();
        else setStatus((e as Error).message);
        return undefined;
      }
    },
    [props.onSignedOut],
  );

  const byRole = (role: string) => mailboxes.find((m) => m.role === role);

  const loadMailboxes = useCallback(async () => {
    const [got] = await jmap.call([['Mailbox/get', { accountId: jmap.accountId, ids: null }, 'm']]);
    const list = (got.list as Mailbox[])
      .slice()
      .sort((a, b) => mailboxRank(a) - mailboxRank(b) || a.name.localeCompare(b.name));
    setMailboxes(list);
    return list;
  }, [jmap]);

  /** Reads `limit` messages of a folder from `position`; replaces the list from 0, appends otherwise. */
  const loadMessages = useCallback(
    async (mailboxId: string, position: number, limit: number) => {
      setList((l) => ({ ...l, loading: true }));
      try {
        const [query, got] = await jmap.call([
          [
            'Email/query',
            {
              accountId: jmap.accountId,
              filter: { inMailbox: mailboxId },
              sort: [{ property: 'receivedAt', isAscending: false }],
              position,
              limit,
              calculateTotal: true,
            },
            'q',
          ],
          [
            'Email/get',
            {
              accountId: jmap.accountId,
              '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' },
              properties: summaryProperties,
            },
            'g',
          ],
        ]);
        if (listRef.current.mailboxId && listRef.current.mailboxId !== mailboxId) return;
        setEmails((known) => {
          const next = { ...known };
          for (const email of got.list as EmailSummary[]) next[email.id] = email;
          return next;
        });
        setList((l) => ({
          mailboxId,
          ids: position === 0 ? query.ids : [...l.ids.slice(0, position), ...query.ids],
          total: query.total,
          loading: false,
        }));
      } catch (e) {
        setList((l) => ({ ...l, loading: false }));
        throw e;
      }
    },
    [jmap],
  );

  const openMailbox = (mailboxId: string) => {
    setSelected(null);
    listRef.current = { mailboxId, ids: [], total: 0, loading: true };
    setList(listRef.current);
    guard(() => loadMessages(mailboxId, 0, pageSize));
  };

  // Start: the session, the folders, the INBOX.
  useEffect(() => {
    guard(async () => {
      await jmap.start();
      const boxes = await loadMailboxes();
      const inbox = boxes.find((m) => m.role === 'inbox') ?? boxes[0];
      setReady(true);
      if (inbox) {
        listRef.current = { mailboxId: inbox.id, ids: [], total: 0, loading: true };
        await loadMessages(inbox.id, 0, pageSize);
      }
    });
  }, [jmap]);

  /** Reads the folders and the loaded part of the list again (after push, or an action). */
  const refresh = useCallback(async () => {
    const current = listRef.current;
    await loadMailboxes();
    if (current.mailboxId)
      await loadMessages(current.mailboxId, 0, Math.min(Math.max(current.ids.length, pageSize), 500));
  }, [loadMailboxes, loadMessages]);

  // Push: a state change (new mail, or a change made by another client) reads the view again.
  useEffect(() => {
    if (!ready) return;
    const source = jmap.push(['Email', 'Mailbox']);
    let first = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    source.addEventListener('state', () => {
      if (first) {
        first = false;
        return;
      }
      clearTimeout(timer);
      timer = setTimeout(() => guard(refresh), 150);
    });
    return () => {
      clearTimeout(timer);
      source.close();
    };
  }, [ready, refresh]);

  // More messages as the end of the list scrolls into view. An observer's report describes the list as
  // it was laid out when the observer was made; by the time it arrives a page may have landed and pushed
  // the end out of view. So it acts only if the list is still the one it was made for (a changed list
  // makes a new observer, whose first report tells where the end is now).
  const sentinel = useRef<HTMLLIElement>(null);
  useEffect(() => {
    const target = sentinel.current;
    if (!target) return;
    const observedFor = list;
    const observer = new IntersectionObserver((entries) => {
      const l = listRef.current;
      const unchanged = l.mailboxId === observedFor.mailboxId && l.ids.length === observedFor.ids.length;
      if (unchanged && entries.some((e) => e.isIntersecting) && !l.loading && l.ids.length < l.total)
        guard(() => loadMessages(l.mailboxId, l.ids.length, pageSize));
    });
    observer.observe(target);
    return () => observer.disconnect();
  }, [sentinel.current, list.mailboxId, list.ids.length, list.total, list.loading]);

  const update = async (id: string, patch: Record<string, unknown>) => {
    const [result] = await jmap.call([['Email/set', { accountId: jmap.accountId, update: { [id]: patch } }, 'u']]);
    if (result.notUpdated?.[id]) throw new Error(result.notUpdated[id].description ?? result.notUpdated[id].type);
  };
  const setKeyword = (email: EmailSummary, keyword: string, on: boolean) =>
    guard(async () => {
      await update(email.id, { [`keywords/${keyword}`]: on ? true : null });
      setEmails((known) => {
        const keywords = { ...email.keywords };
        if (on) keywords[keyword] = true;
        else delete keywords[keyword];
        return { ...known, [email.id]: { ...email, keywords } };
      });
      await loadMailboxes();
    });
  const moveToTrash = (email: EmailSummary) =>
    guard(async () => {
      const trash = byRole('trash');
      if (!trash) throw new Error('There is no Trash folder');
      if (email.mailboxIds[trash.id]) {
        const [result] = await jmap.call([['Email/set', { accountId: jmap.accountId, destroy: [email.id] }, 'd']]);
        if (result.notDestroyed?.[email.id]) throw new Error(result.notDestroyed[email.id].type);
        setStatus('Deleted');
      } else {
        await update(email.id, { mailboxIds: { [trash.id]: true } });
        setStatus('Moved to Trash');
      }
      setSelected(null);
      await refresh();
    });

  const send = (message: Draft) =>
    guard(async () => {
      const drafts = byRole('drafts');
      const sent = byRole('sent');
      if (!drafts || !sent) throw new Error('The Drafts or Sent folder is missing');
      const [identities] = await jmap.call([['Identity/get', { accountId: jmap.accountId, ids: null }, 'i']]);
      const identity =
        (identities.list as Identity[]).find((i) => i.email === props.me.address) ?? (identities.list as Identity[])[0];
      if (!identity) throw new Error('You have no identity to send as');
      const to = parseAddresses(message.to);
      const cc = parseAddresses(message.cc);
      if (!to.length && !cc.length) throw new Error('Name at least one recipient');
      const from: EmailAddress = { name: identity.name || null, email: identity.email };
      const [created, submitted] = await jmap.call([
        [
          'Email/set',
          {
            accountId: jmap.accountId,
            create: {
              draft: {
                mailboxIds: { [drafts.id]: true },
                keywords: { $draft: true, $seen: true },
                from: [from],
                to,
                ...(cc.length ? { cc } : {}),
                subject: message.subject,
                ...(message.inReplyTo ? { inReplyTo: message.inReplyTo } : {}),
                ...(message.references ? { references: message.references } : {}),
                textBody: [{ partId: 'body', type: 'text/plain' }],
                bodyValues: { body: { value: message.body } },
              },
            },
          },
          'c',
        ],
        [
          'EmailSubmission/set',
          {
            accountId: jmap.accountId,
            create: { send: { identityId: identity.id, emailId: '#draft' } },
            onSuccessUpdateEmail: {
              '#send': { [`mailboxIds/${drafts.id}`]: null, [`mailboxIds/${sent.id}`]: true, 'keywords/$draft': null },
            },
          },
          's',
        ],
      ]);
      if (created.notCreated?.draft)
        throw new Error(`Not sent: ${created.notCreated.draft.description ?? created.notCreated.draft.type}`);
      if (submitted.notCreated?.send)
        throw new Error(`Not sent: ${submitted.notCreated.send.description ?? submitted.notCreated.send.type}`);
      setDraft(null);
      setStatus('Sent');
      await loadMailboxes();
    });

  const current = mailboxes.find((m) => m.id === list.mailboxId);
  const selectedEmail = selected ? emails[selected] : undefined;

  return (
    <div class="mail">
      <header class="top">
        <span class="brand">Holdfast Mail</span>
        <button type="button" class="primary" onClick={() => setDraft(emptyDraft())}>
          New message
        </button>
        <p class="status" role="status">
          {status}
        </p>
        <span class="me">{props.me.address}</span>
        <button
          type="button"
          onClick={async () => {
            await signOut(props.me);
            props.onSignedOut();
          }}
        >
          Sign out
        </button>
      </header>
      <nav class="folders" aria-label="Folders">
        <ul>
          {mailboxes.map((m) => (
            <li key={m.id}>
              <button
                type="button"
                class={`folder${m.id === list.mailboxId ? ' current' : ''}`}
                aria-current={m.id === list.mailboxId ? 'true' : undefined}
                data-role={m.role ?? undefined}
                onClick={() => openMailbox(m.id)}
              >
                <span class="name">{mailboxName(m)}</span>
                {m.unreadEmails > 0 && (
                  <span class="unread">
                    {m.unreadEmails}
                    <span class="visually-hidden"> unread</span>
                  </span>
                )}
              </button>
            </li>
          ))}
        </ul>
      </nav>
      <section class="list" aria-label={current ? `Messages in ${mailboxName(current)}` : 'Messages'}>
        <ul class="messages">
          {list.ids.map((id) => {
            const email = emails[id];
            if (!email) return null;
            const unread = !email.keywords.$seen;
            return (
              <li key={id}>
                <button
                  type="button"
                  class={`row${unread ? ' unread' : ''}${id === selected ? ' current' : ''}`}
                  data-id={id}
                  onClick={() => {
                    setSelected(id);
                    setDraft(null);
                  }}
                >
                  <span class="from">{senderOf(email)}</span>
                  <time class="date" dateTime={email.receivedAt}>
                    {shortDate(email.receivedAt)}
                  </time>
                  <span class="subject">
                    {email.keywords.$flagged && (
                      <span class="flag" role="img" aria-label="Flagged">
                        ⚑{' '}
                      </span>
                    )}
                    <span class="subject-text">{email.subject || '(no subject)'}</span>
                  </span>
                  <span class="preview">{email.preview}</span>
                </button>
              </li>
            );
          })}
          <li ref={sentinel} class="sentinel">
            {list.loading ? 'Loading…' : list.ids.length === 0 ? 'No messages' : ''}
          </li>
        </ul>
      </section>
      <section class="reader" aria-label="Message">
        {draft ? (
          <Compose draft={draft} onChange={setDraft} onSend={send} onCancel={() => setDraft(null)} />
        ) : selectedEmail ? (
          <Reader
            key={selectedEmail.id}
            jmap={jmap}
            summary={selectedEmail}
            guard={guard}
            inTrash={!!byRole('trash') && !!selectedEmail.mailboxIds[byRole('trash')!.id]}
            onSeen={() => {
              setEmails((known) => ({
                ...known,
                [selectedEmail.id]: { ...selectedEmail, keywords: { ...selectedEmail.keywords, $seen: true } },
              }));
              guard(loadMailboxes);
            }}
            onFlag={(on) => setKeyword(selectedEmail, '$flagged', on)}
            onSeenToggle={(on) => setKeyword(selectedEmail, '$seen', on)}
            onTrash={() => moveToTrash(selectedEmail)}
            onReply={(email) => setDraft(replyTo(email))}
          />
        ) : (
          <p class="empty">Select a message to read it.</p>
        )}
      </section>
    </div>
  );
}

function Reader(props: {
  jmap: Jmap;
  summary: EmailSummary;
  inTrash: boolean;
  guard<T>(action: () => Promise<T>): Promise<T | undefined>;
  onSeen(): void;
  onFlag(on: boolean): void;
  onSeenToggle(on: boolean): void;
  onTrash(): void;
  onReply(email: EmailFull): void;
}) {
  const { jmap, summary } = props;
  const [email, setEmail] = useState<EmailFull | null>(null);
  const [remoteImages, setRemoteImages] = useState(false);
  const [blocked, setBlocked] = useState(0);
  useEffect(() => {
    props.guard(async () => {
      const [got] = await jmap.call([
        [
          'Email/get',
          {
            accountId: jmap.accountId,
            ids: [summary.id],
            properties: fullProperties,
            fetchHTMLBodyValues: true,
            fetchTextBodyValues: true,
          },
          'e',
        ],
      ]);
      const full = got.list[0] as EmailFull | undefined;
      if (!full) throw new Error('The message is gone');
      setEmail(full);
      if (!full.keywords.$seen) {
        await jmap.call([
          ['Email/set', { accountId: jmap.accountId, update: { [full.id]: { 'keywords/$seen': true } } }, 's'],
        ]);
        props.onSeen();
      }
    });
  }, [summary.id]);

  if (!email) return <p class="loading">Loading…</p>;
  const htmlPart = email.htmlBody.find((p) => p.type === 'text/html');
  const text = email.textBody
    .filter((p) => p.partId && email.bodyValues[p.partId])
    .map((p) => email.bodyValues[p.partId!]!.value)
    .join('\n');
  const inline = new Map(
    [...email.attachments, ...email.htmlBody]
      .filter((p) => p.cid && p.blobId)
      .map((p) => [p.cid!.replace(/^<|>$/g, ''), jmap.downloadHref(p.blobId!, p.name, p.type)] as const),
  );
  const files = email.attachments.filter((p) => p.blobId && !(p.cid && p.disposition === 'inline'));
  const flagged = !!summary.keywords.$flagged;
  const seen = !!summary.keywords.$seen;
  return (
    <article class="message">
      <header>
        <h2 class="subject">{email.subject || '(no subject)'}</h2>
        <dl class="addresses">
          <dt>From</dt>
          <dd class="from">{(email.from ?? []).map(formatAddress).join(', ')}</dd>
          <dt>To</dt>
          <dd>{(email.to ?? []).map(formatAddress).join(', ')}</dd>
          {email.cc?.length ? (
            <>
              <dt>Cc</dt>
              <dd>{email.cc.map(formatAddress).join(', ')}</dd>
            </>
          ) : null}
          <dt>Date</dt>
          <dd>
            <time dateTime={email.sentAt ?? email.receivedAt}>
              {new Date(email.sentAt ?? email.receivedAt).toLocaleString()}
            </time>
          </dd>
        </dl>
        <div class="actions">
          <button type="button" onClick={() => props.onReply(email)}>
            Reply
          </button>
          <button type="button" aria-pressed={flagged} onClick={() => props.onFlag(!flagged)}>
            {flagged ? 'Unflag' : 'Flag'}
          </button>
          <button type="button" onClick={() => props.onSeenToggle(!seen)}>
            {seen ? 'Mark unread' : 'Mark read'}
          </button>
          <button type="button" onClick={props.onTrash}>
            {props.inTrash ? 'Delete forever' : 'Delete'}
          </button>
        </div>
      </header>
      {blocked > 0 && !remoteImages && (
        <p class="remote-notice">
          Remote images in this message were blocked to protect your privacy.{' '}
          <button type="button" onClick={() => setRemoteImages(true)}>
            Show images
          </button>
        </p>
      )}
      {files.length > 0 && (
        <ul class="attachments" aria-label="Attachments">
          {files.map((p) => (
            <li key={p.blobId}>
              <a href={jmap.downloadHref(p.blobId!, p.name, p.type)} download={p.name ?? 'attachment'}>
                {p.name ?? 'attachment'} ({formatSize(p.size)})
              </a>
            </li>
          ))}
        </ul>
      )}
      {htmlPart?.partId && email.bodyValues[htmlPart.partId] ? (
        <MessageFrame
          html={email.bodyValues[htmlPart.partId]!.value}
          remoteImages={remoteImages}
          cidUrl={(cid) => inline.get(cid)}
          onBlocked={setBlocked}
        />
      ) : (
        <pre class="text-body">{text}</pre>
      )}
    </article>
  );
}

function Compose(props: {
  draft: Draft;
  onChange(draft: Draft): void;
  onSend(draft: Draft): Promise<unknown>;
  onCancel(): void;
}) {
  const [busy, setBusy] = useState(false);
  const field = (name: keyof Draft) => (e: Event) =>
    props.onChange({ ...props.draft, [name]: (e.target as HTMLInputElement).value });
  return (
    <form
      class="compose"
      aria-label="New message"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        await props.onSend(props.draft);
        setBusy(false);
      }}
    >
      <label>
        To
        <input name="to" type="text" required value={props.draft.to} onInput={field('to')} />
      </label>
      <label>
        Cc
        <input name="cc" type="text" value={props.draft.cc} onInput={field('cc')} />
      </label>
      <label>
        Subject
        <input name="subject" type="text" value={props.draft.subject} onInput={field('subject')} />
      </label>
      <label class="body">
        Message
        <textarea name="body" value={props.draft.body} onInput={field('body')} />
      </label>
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Sending…' : 'Send'}
        </button>
        <button type="button" onClick={props.onCancel}>
          Discard
        </button>
      </div>
    </form>
  );
}

const emptyDraft = (): Draft => ({ to: '', cc: '', subject: '', body: '', inReplyTo: null, references: null });

function replyTo(email: EmailFull): Draft {
  const to = (email.replyTo?.length ? email.replyTo : (email.from ?? [])).map(formatAddress).join(', ');
  const subject = /^re:/i.test(email.subject ?? '') ? (email.subject ?? '') : `Re: ${email.subject ?? ''}`;
  const text = email.textBody
    .filter((p) => p.partId && email.bodyValues[p.partId])
    .map((p) => email.bodyValues[p.partId!]!.value)
    .join('\n');
  const who = email.from?.[0] ? formatAddress(email.from[0]) : 'someone';
  const when = new Date(email.sentAt ?? email.receivedAt).toLocaleString();
  const quoted = text
    .split('\n')
    .map((line) => `> ${line}`)
    .join('\n');
  return {
    to,
    cc: '',
    subject,
    body: `\n\nOn ${when}, ${who} wrote:\n${quoted}\n`,
    inReplyTo: email.messageId,
    references: email.messageId ? [...(email.references ?? []), ...email.messageId] : email.references,
  };
}

function mailboxRank(m: Mailbox): number {
  const at = m.role ? roleOrder.indexOf(m.role) : -1;
  return at >= 0 ? at : roleOrder.length;
}

function mailboxName(m: Mailbox): string {
  return (m.role && roleNames[m.role]) || m.name;
}

function senderOf(email: EmailSummary): string {
  const first = email.from?.[0];
  return first ? first.name || first.email : '(unknown sender)';
}

function shortDate(iso: string): string {
  const date = new Date(iso);
  const now = new Date();
  return date.toDateString() === now.toDateString()
    ? date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : date.toLocaleDateString([], { day: 'numeric', month: 'short', year: 'numeric' });
}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
