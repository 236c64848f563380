// The mail view: folders with unread counts, a folder's conversations newest first (more load as the
// list scrolls), search across all folders, the reading pane (reader.tsx) and the composer
// (compose.tsx). Everything goes through JMAP (jmap.ts); push over EventSource tells of new mail and
// of changes made elsewhere, and the view reads them again. Moves and deletes can be undone for a
// few seconds; keyboard shortcuts work outside text fields.
import { Component } from 'preact';
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Compose, type Draft, draftOf, forwardDraft, newDraft, replyDraft } from './compose.tsx';
import {
  type EmailFull,
  type EmailSummary,
  type Identity,
  Jmap,
  type Mailbox,
  type Me,
  SignedOut,
  signOut,
} from './jmap.ts';
import { filesOf, mailboxLabel, Reader, summaryProperties } from './reader.tsx';
import { ownIdentity } from './settings.tsx';

const pageSize = 50;
const roleOrder = ['inbox', 'drafts', 'sent', 'archive', 'junk', 'trash'];
/** How long a move or delete can be undone. */
const undoMs = 8000;

interface ListState {
  mailboxId: string;
  /** A search across all folders instead of a folder's conversations. */
  search: string;
  ids: string[];
  total: number;
  loading: boolean;
}

interface Toast {
  text: string;
  undo?: () => Promise<void>;
}

export function MailView(props: { me: Me; onSignedOut(): void; onSettings(): void }) {
  const jmap = useMemo(() => new Jmap(props.me), [props.me]);
  const [ready, setReady] = useState(false);
  const [mailboxes, setMailboxes] = useState<Mailbox[]>([]);
  const [identities, setIdentities] = useState<Identity[]>([]);
  const [list, setList] = useState<ListState>({ mailboxId: '', search: '', ids: [], total: 0, loading: false });
  const [emails, setEmails] = useState<Record<string, EmailSummary>>({});
  const [threadSizes, setThreadSizes] = useState<Record<string, number>>({});
  const [selected, setSelected] = useState<string | null>(null);
  const [opened, setOpened] = useState<EmailFull | null>(null);
  const [composing, setComposing] = useState<{ key: number; draft: Draft } | null>(null);
  const [status, setStatus] = useState('');
  const [toast, setToast] = useState<Toast | null>(null);
  const [query, setQuery] = useState('');
  const listRef = useRef(list);
  listRef.current = list;
  const searchBox = useRef<HTMLInputElement>(null);

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

  /**
   * Reads `limit` rows from `position`: of a folder one per conversation (its newest message there),
   * of a search every message found; replaces the list's first rows from 0, appends otherwise.
   */
  const loadMessages = useCallback(
    async (mailboxId: string, search: string, position: number, limit: number) => {
      setList((l) => ({ ...l, loading: true }));
      try {
        const [query, got, threads] = await jmap.call([
          [
            'Email/query',
            {
              accountId: jmap.accountId,
              filter: search ? { text: search } : { inMailbox: mailboxId },
              sort: [{ property: 'receivedAt', isAscending: false }],
              collapseThreads: !search,
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
          [
            'Thread/get',
            { accountId: jmap.accountId, '#ids': { resultOf: 'g', name: 'Email/get', path: '/list/*/threadId' } },
            't',
          ],
        ]);
        const now = listRef.current;
        if (now.mailboxId !== mailboxId || now.search !== search) return;
        setEmails((known) => {
          const next = { ...known };
          for (const email of got.list as EmailSummary[]) next[email.id] = email;
          return next;
        });
        setThreadSizes((known) => {
          const next = { ...known };
          for (const thread of threads.list as { id: string; emailIds: string[] }[])
            next[thread.id] = thread.emailIds.length;
          return next;
        });
        setList((l) => ({
          mailboxId,
          search,
          ids:
            position === 0
              ? readAgain(l, mailboxId, search, query.ids, limit)
              : [...l.ids.slice(0, position), ...query.ids],
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

  const show = (mailboxId: string, search: string) => {
    setSelected(null);
    listRef.current = { mailboxId, search, ids: [], total: 0, loading: true };
    setList(listRef.current);
    guard(() => loadMessages(mailboxId, search, 0, pageSize));
  };
  const openMailbox = (mailboxId: string) => {
    setQuery('');
    show(mailboxId, '');
  };

  // Start: the session, the folders, the identities, the INBOX.
  useEffect(() => {
    guard(async () => {
      await jmap.start();
      const [boxes, [ids]] = await Promise.all([
        loadMailboxes(),
        jmap.call([['Identity/get', { accountId: jmap.accountId, ids: null }, 'i']]),
      ]);
      const own = ownIdentity(ids.list as Identity[], props.me.address);
      setIdentities([...(own ? [own] : []), ...(ids.list as Identity[]).filter((i) => i !== own)]);
      const inbox = boxes.find((m) => m.role === 'inbox') ?? boxes[0];
      setReady(true);
      if (inbox) {
        listRef.current = { mailboxId: inbox.id, search: '', ids: [], total: 0, loading: true };
        setList(listRef.current);
        await loadMessages(inbox.id, '', 0, pageSize);
      }
    });
  }, [jmap]);

  /** Reads the folders and the loaded part of the list again (after push, or an action). */
  const refresh = useCallback(async () => {
    const current = listRef.current;
    await loadMailboxes();
    if (current.mailboxId || current.search)
      await loadMessages(current.mailboxId, current.search, 0, Math.min(Math.max(current.ids.length, pageSize), 500));
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
      const unchanged =
        l.mailboxId === observedFor.mailboxId &&
        l.search === observedFor.search &&
        l.ids.length === observedFor.ids.length;
      if (unchanged && entries.some((e) => e.isIntersecting) && !l.loading && l.ids.length < l.total)
        guard(() => loadMessages(l.mailboxId, l.search, l.ids.length, pageSize));
    });
    observer.observe(target);
    return () => observer.disconnect();
  }, [sentinel.current, list.mailboxId, list.search, list.ids.length, list.total, list.loading]);

  // The undo toast goes after a while.
  useEffect(() => {
    if (!toast) return;
    const timer = setTimeout(() => setToast(null), undoMs);
    return () => clearTimeout(timer);
  }, [toast]);

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

  /** The row after (or else before) the row of `email` (its own, or its conversation's), to select once it is gone. */
  const neighbour = (email: EmailSummary) => {
    const at = list.ids.findIndex((id) => id === email.id || (!list.search && emails[id]?.threadId === email.threadId));
    return at < 0 ? null : (list.ids[at + 1] ?? list.ids[at - 1] ?? null);
  };

  /**
   * What an action on a message applies to: in a folder (one row per conversation), the messages of
   * its conversation in that folder; in search results (one row per message), the message.
   */
  const targetsOf = async (email: EmailSummary): Promise<Pick<EmailSummary, 'id' | 'mailboxIds'>[]> => {
    const { mailboxId, search } = listRef.current;
    if (search || !mailboxId) return [email];
    const [, got] = await jmap.call([
      ['Thread/get', { accountId: jmap.accountId, ids: [email.threadId] }, 't'],
      [
        'Email/get',
        {
          accountId: jmap.accountId,
          '#ids': { resultOf: 't', name: 'Thread/get', path: '/list/*/emailIds' },
          properties: ['id', 'mailboxIds'],
        },
        'g',
      ],
    ]);
    const inFolder = (got.list as Pick<EmailSummary, 'id' | 'mailboxIds'>[]).filter((e) => e.mailboxIds[mailboxId]);
    return inFolder.some((e) => e.id === email.id) ? inFolder : [email];
  };

  /** Sets each message's folders; throws with the first refusal. */
  const setFolders = async (changes: { id: string; mailboxIds: Record<string, boolean> }[]) => {
    const update = Object.fromEntries(changes.map((c) => [c.id, { mailboxIds: c.mailboxIds }]));
    const [result] = await jmap.call([['Email/set', { accountId: jmap.accountId, update }, 'u']]);
    const refused = Object.values(result.notUpdated ?? {})[0] as { type: string; description?: string } | undefined;
    if (refused) throw new Error(refused.description ?? refused.type);
  };

  /** Moves a message (in a folder, its conversation there) to one folder, with a toast that moves them back. */
  const moveTo = (email: EmailSummary, target: Mailbox) =>
    guard(async () => {
      const moved = await targetsOf(email);
      await setFolders(moved.map((m) => ({ id: m.id, mailboxIds: { [target.id]: true } })));
      setSelected(neighbour(email));
      const what = moved.length > 1 ? `${moved.length} messages` : '';
      setToast({
        text: `${what ? `Moved ${what} to` : 'Moved to'} ${mailboxLabel(target)}`,
        undo: async () => {
          await setFolders(moved);
          setSelected(email.id);
        },
      });
      await refresh();
    });

  const remove = (email: EmailSummary) =>
    guard(async () => {
      const trash = byRole('trash');
      if (!trash) throw new Error('There is no Trash folder');
      if (!email.mailboxIds[trash.id]) return moveTo(email, trash);
      const ids = (await targetsOf(email)).map((m) => m.id);
      const [result] = await jmap.call([['Email/set', { accountId: jmap.accountId, destroy: ids }, 'd']]);
      const refused = Object.values(result.notDestroyed ?? {})[0] as { type: string } | undefined;
      if (refused) throw new Error(refused.type);
      setSelected(neighbour(email));
      setToast({ text: ids.length > 1 ? `Deleted ${ids.length} messages forever` : 'Deleted forever' });
      await refresh();
    });

  const undo = async () => {
    const action = toast?.undo;
    setToast(null);
    if (!action) return;
    await guard(async () => {
      await action();
      setStatus('Undone');
      await refresh();
    });
  };

  const compose = (draft: Draft) => {
    setStatus('');
    setComposing({ key: Date.now(), draft });
  };
  /** Closes the composer; a draft it was opened from is gone (replaced, sent or discarded), so it is not shown. */
  const leaveDraft = () => {
    if (composing?.draft.savedId && composing.draft.savedId === selected) setSelected(null);
    setComposing(null);
  };
  const own = identities.map((i) => i.email);
  const defaultIdentity = identities[0];
  const reply = (email: EmailFull, all: boolean) => compose(replyDraft(email, defaultIdentity, own, all));
  const forward = (email: EmailFull) => compose(forwardDraft(email, defaultIdentity, filesOf(email)));

  const current = mailboxes.find((m) => m.id === list.mailboxId);
  const foldersOf = (email: EmailSummary) =>
    mailboxes
      .filter((m) => email.mailboxIds[m.id])
      .map(mailboxLabel)
      .join(', ');
  const selectedEmail = selected ? emails[selected] : undefined;
  const drafts = byRole('drafts');
  const sent = byRole('sent');

  // Keyboard shortcuts, outside text fields: j/k next and previous, r reply, a reply all, f forward,
  // c new message, # delete, / search.
  const keys = useRef<(e: KeyboardEvent) => void>(() => {});
  keys.current = (e: KeyboardEvent) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
    const target = e.target as HTMLElement;
    if (target.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"], [role=dialog]'))
      return;
    const at = selected ? list.ids.indexOf(selected) : -1;
    const act = (action: () => void) => {
      e.preventDefault();
      action();
    };
    switch (e.key) {
      case 'j':
        return act(() => {
          const next = list.ids[at + 1];
          if (next) select(next);
        });
      case 'k':
        return act(() => {
          const previous = list.ids[at - 1] ?? (at < 0 ? list.ids[0] : undefined);
          if (previous) select(previous);
        });
      case 'r':
        return opened && !composing ? act(() => reply(opened, false)) : undefined;
      case 'a':
        return opened && !composing ? act(() => reply(opened, true)) : undefined;
      case 'f':
        return opened && !composing ? act(() => forward(opened)) : undefined;
      case 'c':
        return composing ? undefined : act(() => compose(newDraft(defaultIdentity)));
      case '#':
        return selectedEmail && !composing ? act(() => remove(selectedEmail)) : undefined;
      case '/':
        return act(() => searchBox.current?.focus());
    }
  };
  useEffect(() => {
    const listener = (e: KeyboardEvent) => keys.current(e);
    document.addEventListener('keydown', listener);
    return () => document.removeEventListener('keydown', listener);
  }, []);

  const select = (id: string) => {
    setSelected(id);
    setComposing(null);
    document
      .querySelector<HTMLElement>(`.messages .row[data-id="${CSS.escape(id)}"]`)
      ?.scrollIntoView({ block: 'nearest' });
  };
  // The rows get one callback for the life of the view, so a row re-renders only when what it shows changes.
  const selectRef = useRef(select);
  selectRef.current = select;
  const selectRow = useCallback((id: string) => selectRef.current(id), []);

  return (
    <div class="mail">
      <header class="top">
        <span class="brand">Holdfast Mail</span>
        <button type="button" class="primary" aria-keyshortcuts="c" onClick={() => compose(newDraft(defaultIdentity))}>
          New message
        </button>
        <search class="search">
          <form
            onSubmit={(e) => {
              e.preventDefault();
              const text = query.trim();
              if (text) show('', text);
              else if (!list.mailboxId) openMailbox(byRole('inbox')?.id ?? mailboxes[0]?.id ?? '');
            }}
          >
            <input
              ref={searchBox}
              type="search"
              name="search"
              placeholder="Search mail"
              aria-label="Search mail"
              aria-keyshortcuts="/"
              value={query}
              onInput={(e) => setQuery((e.target as HTMLInputElement).value)}
            />
          </form>
        </search>
        <p class="status" role="status">
          {status}
        </p>
        <span class="me">{props.me.address}</span>
        <button type="button" onClick={props.onSettings}>
          Settings
        </button>
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
                <span class="name">{mailboxLabel(m)}</span>
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
      <main class="list" aria-labelledby="list-title">
        <h1 id="list-title" class="visually-hidden">
          {list.search
            ? `Search results for ${list.search}`
            : current
              ? `Messages in ${mailboxLabel(current)}`
              : 'Messages'}
        </h1>
        {list.search && (
          <p class="list-title">
            Results for “{list.search}” in all folders{' '}
            <button
              type="button"
              class="link"
              onClick={() => openMailbox(byRole('inbox')?.id ?? mailboxes[0]?.id ?? '')}
            >
              Clear search
            </button>
          </p>
        )}
        <ul class="messages">
          {list.ids.map((id) => {
            const email = emails[id];
            if (!email) return null;
            return (
              <MessageRow
                key={id}
                email={email}
                current={id === selected}
                size={list.search ? 1 : (threadSizes[email.threadId] ?? 1)}
                inFolders={list.search ? foldersOf(email) : ''}
                onSelect={selectRow}
              />
            );
          })}
          <li ref={sentinel} class="sentinel">
            {list.loading ? 'Loading…' : list.ids.length === 0 ? (list.search ? 'Nothing found' : 'No messages') : ''}
          </li>
        </ul>
      </main>
      <section class="reader" aria-label="Message">
        {composing && drafts && sent ? (
          <Compose
            key={composing.key}
            jmap={jmap}
            initial={composing.draft}
            identities={identities}
            draftsId={drafts.id}
            sentId={sent.id}
            guard={guard}
            onSent={() => {
              leaveDraft();
              setStatus('Sent');
              guard(refresh);
            }}
            onClose={(message) => {
              leaveDraft();
              setStatus(message);
              guard(refresh);
            }}
          />
        ) : selectedEmail ? (
          <Reader
            key={selectedEmail.id}
            jmap={jmap}
            summary={selectedEmail}
            mailboxes={mailboxes}
            trashId={byRole('trash')?.id}
            draftsId={drafts?.id}
            guard={guard}
            onLoaded={setOpened}
            onSeen={() => {
              setEmails((known) => ({
                ...known,
                [selectedEmail.id]: { ...selectedEmail, keywords: { ...selectedEmail.keywords, $seen: true } },
              }));
              guard(loadMailboxes);
            }}
            onFlag={(on) => setKeyword(selectedEmail, '$flagged', on)}
            onSeenToggle={(on) => setKeyword(selectedEmail, '$seen', on)}
            onTrash={() => remove(selectedEmail)}
            onMove={(id) => {
              const target = mailboxes.find((m) => m.id === id);
              if (target) moveTo(selectedEmail, target);
            }}
            onReply={reply}
            onForward={forward}
            onEditDraft={(email) => compose(draftOf(email, identities))}
            onOpen={(summary) => {
              setEmails((known) => ({ ...known, [summary.id]: summary }));
              setSelected(summary.id);
            }}
          />
        ) : (
          <p class="empty">Select a message to read it.</p>
        )}
      </section>
      {toast && (
        <div class="toast" role="status">
          <span>{toast.text}</span>
          {toast.undo && (
            <button type="button" onClick={undo}>
              Undo
            </button>
          )}
        </div>
      )}
    </div>
  );
}

function mailboxRank(m: Mailbox): number {
  const at = m.role ? roleOrder.indexOf(m.role) : -1;
  return at >= 0 ? at : roleOrder.length;
}

interface RowProps {
  email: EmailSummary;
  current: boolean;
  /** Messages in the conversation (1 in search results). */
  size: number;
  /** In search results, the folders the message is in; empty otherwise. */
  inFolders: string;
  onSelect(id: string): void;
}

/**
 * The list's rows after its first `limit` were read again (`fresh`). Rows loaded beyond them stay: a
 * read of the loaded part (after push) may have started before the next page landed, and must not
 * take that page away, nor cut a long list down to what one read fetches. Another folder or search
 * starts from `fresh` alone.
 */
function readAgain(list: ListState, mailboxId: string, search: string, fresh: string[], limit: number): string[] {
  if (list.mailboxId !== mailboxId || list.search !== search || list.ids.length <= limit) return fresh;
  const seen = new Set(fresh);
  return [...fresh, ...list.ids.slice(limit).filter((id) => !seen.has(id))];
}

/**
 * A row of the list. A folder scrolled far holds thousands of rows, and the view renders again at each
 * page loaded, message opened or flag set: a row whose message, place and size are the same is left as
 * it is (shouldComponentUpdate), so that work stays with the rows that changed.
 */
class MessageRow extends Component<RowProps> {
  override shouldComponentUpdate(next: RowProps) {
    const now = this.props;
    return (
      next.email !== now.email ||
      next.current !== now.current ||
      next.size !== now.size ||
      next.inFolders !== now.inFolders
    );
  }
  override render() {
    const { email, current, size, inFolders, onSelect } = this.props;
    const unread = !email.keywords.$seen;
    return (
      <li>
        <button
          type="button"
          class={`row${unread ? ' unread' : ''}${current ? ' current' : ''}`}
          data-id={email.id}
          onClick={() => onSelect(email.id)}
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
            {size > 1 && (
              <span class="thread-size">
                {' '}
                {size}
                <span class="visually-hidden"> messages in the conversation</span>
              </span>
            )}
            {email.hasAttachment && (
              <span class="has-attachment" role="img" aria-label="Has attachments">
                {' '}
                📎
              </span>
            )}
          </span>
          <span class="preview">
            {inFolders && <span class="in-folder">{inFolders} · </span>}
            {email.preview}
          </span>
        </button>
      </li>
    );
  }
}

function senderOf(email: EmailSummary): string {
  const first = email.from?.[0];
  return first ? first.name || first.email : '(unknown sender)';
}

// Made once: toLocale…String makes a formatter at each call, which a list of thousands of rows feels.
const timeFormat = new Intl.DateTimeFormat([], { hour: '2-digit', minute: '2-digit' });
const dayFormat = new Intl.DateTimeFormat([], { day: 'numeric', month: 'short', year: 'numeric' });

function shortDate(iso: string): string {
  const date = new Date(iso);
  return date.toDateString() === new Date().toDateString() ? timeFormat.format(date) : dayFormat.format(date);
}
