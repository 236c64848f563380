// The composer: a new message, a reply, reply all or forward. It is saved into Drafts as it is
// written (Email/set create, the previous copy destroyed in the same call, a second after the last
// keystroke), sent from any identity the user may send as (Identity/get) with files uploaded as
// they are chosen (POST /jmap/upload/…, then Email/set with their blobIds); sending makes the
// message, submits it (EmailSubmission/set, which moves it to Sent) and destroys the saved draft in
// one request. Forwarding keeps the original's attachments by their blobIds: nothing is uploaded again.
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  type BodyPart,
  type EmailAddress,
  type EmailFull,
  formatAddress,
  type Identity,
  type Jmap,
  parseAddresses,
  type Upload,
} from './jmap.ts';

export interface Draft {
  identityId: string;
  to: string;
  cc: string;
  subject: string;
  body: string;
  inReplyTo: string[] | null;
  references: string[] | null;
  attachments: Upload[];
  /** The copy in Drafts this one replaces when saved again, sent or discarded. */
  savedId: string | null;
}

/** How long after the last change a draft is saved. */
const saveDelayMs = 1000;

const signatureBlock = (identity: Identity | undefined) =>
  identity?.textSignature ? `\n\n-- \n${identity.textSignature}` : '';

/**
 * A body with one identity's signature block in place of another's: where the old one was, or (there
 * was none) after what the user wrote, above a quoted or forwarded message.
 */
function withSignature(body: string, before: string, after: string): string {
  if (before && body.includes(before)) return body.replace(before, after);
  if (!after) return body;
  const quote = body.search(/\n\n(On .* wrote:\n|---------- Forwarded message ----------\n)/);
  return quote >= 0 ? body.slice(0, quote) + after + body.slice(quote) : body + after;
}

export function newDraft(identity: Identity | undefined, to = ''): Draft {
  return {
    identityId: identity?.id ?? '',
    to,
    cc: '',
    subject: '',
    body: signatureBlock(identity),
    inReplyTo: null,
    references: null,
    attachments: [],
    savedId: null,
  };
}

/**
 * A message's text to quote: its text parts, and an HTML part (of a message without text, which
 * JMAP's textBody then names) as the text it shows — parsed inertly, nothing in it runs or loads.
 */
const textOf = (email: EmailFull) =>
  email.textBody
    .filter((p) => p.partId && email.bodyValues[p.partId])
    .map((p) => {
      const value = email.bodyValues[p.partId!]!.value;
      return p.type === 'text/html' ? textOfHtml(value) : value;
    })
    .join('\n');

/** The text an HTML body shows: scripts and styles left out, a line break after each block. */
function textOfHtml(html: string): string {
  const body = new DOMParser().parseFromString(html, 'text/html').body;
  for (const hidden of body.querySelectorAll('script, style, template, noscript')) hidden.remove();
  for (const br of body.querySelectorAll('br')) br.replaceWith('\n');
  for (const block of body.querySelectorAll('p, div, li, tr, h1, h2, h3, h4, h5, h6, blockquote, pre, table'))
    block.append('\n');
  return (body.textContent ?? '')
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

const withPrefix = (prefix: string, subject: string | null) =>
  new RegExp(`^${prefix}:`, 'i').test(subject ?? '') ? (subject ?? '') : `${prefix}: ${subject ?? ''}`;

/** A reply to the sender, or with `all` to everyone the message went to but the user's own addresses. */
export function replyDraft(email: EmailFull, identity: Identity | undefined, own: string[], all: boolean): Draft {
  const to = email.replyTo?.length ? email.replyTo : (email.from ?? []);
  const mine = new Set(own.map((a) => a.toLowerCase()));
  const taken = new Set(to.map((a) => a.email.toLowerCase()));
  const cc = all
    ? [...(email.to ?? []), ...(email.cc ?? [])].filter((a) => {
        const key = a.email.toLowerCase();
        if (mine.has(key) || taken.has(key)) return false;
        taken.add(key);
        return true;
      })
    : [];
  const who = email.from?.[0] ? formatAddress(email.from[0]) : 'someone';
  const quoted = textOf(email)
    .split('\n')
    .map((line) => `> ${line}`)
    .join('\n');
  return {
    ...newDraft(identity, to.map(formatAddress).join(', ')),
    cc: cc.map(formatAddress).join(', '),
    subject: withPrefix('Re', email.subject),
    body: `${signatureBlock(identity)}\n\nOn ${dateOf(email)}, ${who} wrote:\n${quoted}\n`,
    inReplyTo: email.messageId,
    references: email.messageId ? [...(email.references ?? []), ...email.messageId] : email.references,
  };
}

/** A forward: the text below a header of the original, its attachments kept. */
export function forwardDraft(email: EmailFull, identity: Identity | undefined, files: BodyPart[]): Draft {
  const list = (addresses: EmailAddress[] | null) => (addresses ?? []).map(formatAddress).join(', ');
  const header = [
    '---------- Forwarded message ----------',
    `From: ${list(email.from)}`,
    `Date: ${dateOf(email)}`,
    `Subject: ${email.subject ?? ''}`,
    `To: ${list(email.to)}`,
    ...(email.cc?.length ? [`Cc: ${list(email.cc)}`] : []),
  ].join('\n');
  return {
    ...newDraft(identity),
    subject: withPrefix('Fwd', email.subject),
    body: `${signatureBlock(identity)}\n\n${header}\n\n${textOf(email)}\n`,
    attachments: files.map((p) => ({
      blobId: p.blobId!,
      type: p.type,
      name: p.name ?? 'attachment',
      size: p.size,
    })),
  };
}

/** A draft saved in Drafts, to write on. */
export function draftOf(email: EmailFull, identities: Identity[]): Draft {
  const from = email.from?.[0]?.email;
  return {
    identityId: (identities.find((i) => i.email === from) ?? identities[0])?.id ?? '',
    to: (email.to ?? []).map(formatAddress).join(', '),
    cc: (email.cc ?? []).map(formatAddress).join(', '),
    subject: email.subject ?? '',
    body: textOf(email),
    inReplyTo: null,
    references: email.references,
    attachments: email.attachments
      .filter((p) => p.blobId)
      .map((p) => ({ blobId: p.blobId!, type: p.type, name: p.name ?? 'attachment', size: p.size })),
    savedId: email.id,
  };
}

const dateOf = (email: EmailFull) => new Date(email.sentAt ?? email.receivedAt).toLocaleString();

/** The Email/set create object of a draft (lenient about addresses: a draft may be half written). */
function emailOf(draft: Draft, identity: Identity, mailboxId: string, strict: boolean) {
  const addresses = (text: string) => {
    try {
      return parseAddresses(text);
    } catch (e) {
      if (strict) throw e;
      return [];
    }
  };
  const to = addresses(draft.to);
  const cc = addresses(draft.cc);
  return {
    mailboxIds: { [mailboxId]: true },
    keywords: { $draft: true, $seen: true },
    from: [{ name: identity.name || null, email: identity.email }],
    ...(to.length ? { to } : {}),
    ...(cc.length ? { cc } : {}),
    subject: draft.subject,
    ...(draft.inReplyTo ? { inReplyTo: draft.inReplyTo } : {}),
    ...(draft.references?.length ? { references: draft.references } : {}),
    textBody: [{ partId: 'body', type: 'text/plain' }],
    bodyValues: { body: { value: draft.body } },
    ...(draft.attachments.length
      ? {
          attachments: draft.attachments.map((a) => ({
            blobId: a.blobId,
            type: a.type,
            name: a.name,
            disposition: 'attachment',
          })),
        }
      : {}),
  };
}

const refusal = (error: { type: string; description?: string }) => error.description ?? error.type;

export function Compose(props: {
  jmap: Jmap;
  initial: Draft;
  identities: Identity[];
  draftsId: string;
  sentId: string;
  guard<T>(action: () => Promise<T>): Promise<T | undefined>;
  onSent(): void;
  onClose(message: string): void;
}) {
  const { jmap } = props;
  const [draft, setDraft] = useState<Draft>(props.initial);
  const [busy, setBusy] = useState(false);
  const [saveState, setSaveState] = useState<'' | 'saving' | 'saved'>('');
  const [uploading, setUploading] = useState(0);
  const savedId = useRef<string | null>(props.initial.savedId);
  const saving = useRef<Promise<unknown>>(Promise.resolve());
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const changed = useRef(false);
  const closed = useRef(false);
  const draftRef = useRef(draft);
  draftRef.current = draft;
  const identityOf = (d: Draft) => props.identities.find((i) => i.id === d.identityId) ?? props.identities[0];
  const identity = identityOf(draft);

  /** Saves the draft as it is now, after any save in flight, replacing the previous copy. */
  const save = (current: Draft) => {
    const run = saving.current.then(async () => {
      const identity = identityOf(current);
      if (closed.current || !identity) return;
      setSaveState('saving');
      const previous = savedId.current;
      const [set] = await jmap.call([
        [
          'Email/set',
          {
            accountId: jmap.accountId,
            create: { draft: emailOf(current, identity, props.draftsId, false) },
            ...(previous ? { destroy: [previous] } : {}),
          },
          'd',
        ],
      ]);
      if (set.notCreated?.draft) throw new Error(`Draft not saved: ${refusal(set.notCreated.draft)}`);
      savedId.current = set.created.draft.id;
      setSaveState('saved');
    });
    saving.current = run.catch(() => {});
    return props.guard(() => run);
  };

  const pending = useRef(false);
  useEffect(() => {
    if (!changed.current) return;
    clearTimeout(timer.current);
    pending.current = true;
    timer.current = setTimeout(() => {
      pending.current = false;
      save(draft);
    }, saveDelayMs);
  }, [draft]);
  // Closed with a change not saved yet (another message opened): it is saved now.
  useEffect(
    () => () => {
      clearTimeout(timer.current);
      if (pending.current && !closed.current) save(draftRef.current);
    },
    [],
  );

  const change = (patch: Partial<Draft>) => {
    changed.current = true;
    setSaveState('');
    setDraft((d) => ({ ...d, ...patch }));
  };
  const field = (name: 'to' | 'cc' | 'subject' | 'body') => (e: Event) =>
    change({ [name]: (e.target as HTMLInputElement).value });

  const switchIdentity = (id: string) => {
    const next = props.identities.find((i) => i.id === id);
    change({ identityId: id, body: withSignature(draft.body, signatureBlock(identity), signatureBlock(next)) });
  };

  const addFiles = async (files: FileList | null) => {
    for (const file of [...(files ?? [])]) {
      setUploading((n) => n + 1);
      const uploaded = await props.guard(() => jmap.upload(file));
      setUploading((n) => n - 1);
      if (uploaded) change({ attachments: [...draftRef.current.attachments, uploaded] });
    }
  };

  const send = async () => {
    if (!identity) throw new Error('You have no identity to send as');
    const to = parseAddresses(draft.to);
    const cc = parseAddresses(draft.cc);
    if (!to.length && !cc.length) throw new Error('Name at least one recipient');
    clearTimeout(timer.current);
    pending.current = false;
    await saving.current;
    closed.current = true;
    try {
      await submit(identity);
    } catch (e) {
      // Not sent: saving as it is written goes on.
      closed.current = false;
      throw e;
    }
    props.onSent();
  };

  const submit = async (identity: Identity) => {
    const previous = savedId.current;
    const [created, submitted] = await jmap.call([
      [
        'Email/set',
        {
          accountId: jmap.accountId,
          create: { draft: emailOf(draft, identity, props.draftsId, true) },
          ...(previous ? { destroy: [previous] } : {}),
        },
        'c',
      ],
      [
        'EmailSubmission/set',
        {
          accountId: jmap.accountId,
          create: { send: { identityId: identity.id, emailId: '#draft' } },
          onSuccessUpdateEmail: {
            '#send': {
              [`mailboxIds/${props.draftsId}`]: null,
              [`mailboxIds/${props.sentId}`]: true,
              'keywords/$draft': null,
            },
          },
        },
        's',
      ],
    ]);
    if (created.notCreated?.draft) throw new Error(`Not sent: ${refusal(created.notCreated.draft)}`);
    // Not submitted, the message stays in Drafts as the copy to send again.
    savedId.current = created.created.draft.id;
    if (submitted.notCreated?.send) throw new Error(`Not sent: ${refusal(submitted.notCreated.send)}`);
  };

  const discard = async () => {
    clearTimeout(timer.current);
    pending.current = false;
    closed.current = true;
    await saving.current;
    const previous = savedId.current;
    if (previous)
      await props.guard(() => jmap.call([['Email/set', { accountId: jmap.accountId, destroy: [previous] }, 'x']]));
    props.onClose(previous ? 'Draft discarded' : '');
  };

  return (
    <form
      class="compose"
      aria-label="New message"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        await props.guard(send);
        setBusy(false);
      }}
    >
      {props.identities.length > 1 && (
        <label>
          From
          <select
            name="from"
            value={draft.identityId}
            onChange={(e) => switchIdentity((e.target as HTMLSelectElement).value)}
          >
            {props.identities.map((i) => (
              <option key={i.id} value={i.id}>
                {formatAddress({ name: i.name || null, email: i.email })}
              </option>
            ))}
          </select>
        </label>
      )}
      <label>
        To
        <input name="to" type="text" required={!draft.cc} value={draft.to} onInput={field('to')} />
      </label>
      <label>
        Cc
        <input name="cc" type="text" value={draft.cc} onInput={field('cc')} />
      </label>
      <label>
        Subject
        <input name="subject" type="text" value={draft.subject} onInput={field('subject')} />
      </label>
      <label class="body">
        Message
        <textarea name="body" value={draft.body} onInput={field('body')} />
      </label>
      {draft.attachments.length > 0 && (
        <ul class="attachments compose-files" aria-label="Attached files">
          {draft.attachments.map((a) => (
            <li key={a.blobId}>
              <span class="file-name">{a.name}</span> ({formatSize(a.size)}){' '}
              <button
                type="button"
                class="link"
                aria-label={`Remove ${a.name}`}
                onClick={() => change({ attachments: draft.attachments.filter((x) => x !== a) })}
              >
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      <div class="actions">
        <button type="submit" class="primary" disabled={busy || uploading > 0}>
          {busy ? 'Sending…' : 'Send'}
        </button>
        <label class="file-button">
          Attach files
          <input
            type="file"
            name="files"
            multiple
            class="visually-hidden"
            onChange={(e) => {
              const input = e.target as HTMLInputElement;
              addFiles(input.files).finally(() => {
                input.value = '';
              });
            }}
          />
        </label>
        <button type="button" onClick={discard}>
          Discard
        </button>
        <span class="save-state" role="status">
          {uploading > 0
            ? 'Uploading…'
            : saveState === 'saving'
              ? 'Saving…'
              : saveState === 'saved'
                ? 'Draft saved'
                : ''}
        </span>
      </div>
    </form>
  );
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
