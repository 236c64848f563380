// The reading pane: one message (its header, actions, attachments with previews of images and
// PDFs, the body — HTML sanitised in a sandboxed frame, message-frame.tsx) and the other messages
// of its conversation (Thread/get), any of which opens in its place. The preview dialog is
// pdf-preview.tsx, a chunk loaded at the first preview (and pdf.js only at the first PDF's).
import { useEffect, useRef, useState } from 'preact/hooks';
import { calendarPartOf, InvitationBar } from './calendar/invitation-bar.tsx';
import { formatSize } from './compose.tsx';
import { type BodyPart, type EmailFull, type EmailSummary, formatAddress, type Jmap, type Mailbox } from './jmap.ts';
import { MessageFrame } from './message-frame.tsx';

export const summaryProperties = [
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

/** The parts shown as files: attachments but the inline images an HTML body shows itself. */
export const filesOf = (email: EmailFull) =>
  email.attachments.filter((p) => p.blobId && !(p.cid && p.disposition === 'inline'));

const isPdf = (p: BodyPart) => p.type === 'application/pdf' || /\.pdf$/i.test(p.name ?? '');

export function Reader(props: {
  jmap: Jmap;
  summary: EmailSummary;
  mailboxes: Mailbox[];
  trashId: string | undefined;
  draftsId: string | undefined;
  guard<T>(action: () => Promise<T>): Promise<T | undefined>;
  onLoaded(email: EmailFull | null): void;
  onSeen(): void;
  onFlag(on: boolean): void;
  onSeenToggle(on: boolean): void;
  onTrash(): void;
  onMove(mailboxId: string): void;
  onReply(email: EmailFull, all: boolean): void;
  onForward(email: EmailFull): void;
  onEditDraft(email: EmailFull): void;
  onOpen(summary: EmailSummary): void;
}) {
  const { jmap, summary } = props;
  const [email, setEmail] = useState<EmailFull | null>(null);
  const [thread, setThread] = useState<EmailSummary[]>([]);
  const [remoteImages, setRemoteImages] = useState(false);
  const [blocked, setBlocked] = useState(0);
  const [preview, setPreview] = useState<BodyPart | null>(null);
  const [dialog, setDialog] = useState<typeof import('./pdf-preview.tsx') | undefined>();
  /** What opened the preview, focused again when it closes. */
  const opener = useRef<HTMLElement | null>(null);
  const openPreview = async (p: BodyPart, e: Event) => {
    opener.current = e.currentTarget as HTMLElement;
    setPreview(p);
    setDialog(dialog ?? (await props.guard(() => import('./pdf-preview.tsx'))));
  };
  const closePreview = () => {
    setPreview(null);
    opener.current?.focus();
  };
  useEffect(() => {
    props.onLoaded(null);
    props.guard(async () => {
      const [got, , others] = await jmap.call([
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
        ['Thread/get', { accountId: jmap.accountId, ids: [summary.threadId] }, 't'],
        [
          'Email/get',
          {
            accountId: jmap.accountId,
            '#ids': { resultOf: 't', name: 'Thread/get', path: '/list/*/emailIds' },
            properties: summaryProperties,
          },
          'o',
        ],
      ]);
      const full = got.list[0] as EmailFull | undefined;
      if (!full) throw new Error('The message is gone');
      setEmail(full);
      setThread(others.list as EmailSummary[]);
      props.onLoaded(full);
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
  const files = filesOf(email);
  const invitation = calendarPartOf(email);
  const flagged = !!summary.keywords.$flagged;
  const seen = !!summary.keywords.$seen;
  const isDraft = !!email.keywords.$draft && !!props.draftsId && !!email.mailboxIds[props.draftsId];
  const href = (p: BodyPart) => jmap.downloadHref(p.blobId!, p.name, p.type);
  const archive = props.mailboxes.find((m) => m.role === 'archive');
  const moveTargets = props.mailboxes.filter((m) => !summary.mailboxIds[m.id] && m.role !== 'drafts');
  return (
    <article class="message">
      <header>
        <h2 class="subject">{email.subject || '(no subject)'}</h2>
        <dl class="addresses">
          <dt>From</dt>
          <dd class="from">{(email.from ?? []).map(formatAddress).join(', ')}</dd>
          <dt>To</dt>
          <dd class="to">{(email.to ?? []).map(formatAddress).join(', ')}</dd>
          {email.cc?.length ? (
            <>
              <dt>Cc</dt>
              <dd class="cc">{email.cc.map(formatAddress).join(', ')}</dd>
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
          {isDraft ? (
            <button type="button" class="primary" onClick={() => props.onEditDraft(email)}>
              Edit draft
            </button>
          ) : (
            <>
              <button type="button" onClick={() => props.onReply(email, false)} aria-keyshortcuts="r">
                Reply
              </button>
              <button type="button" onClick={() => props.onReply(email, true)} aria-keyshortcuts="a">
                Reply all
              </button>
            </>
          )}
          <button type="button" onClick={() => props.onForward(email)} aria-keyshortcuts="f">
            Forward
          </button>
          <button type="button" aria-pressed={flagged} onClick={() => props.onFlag(!flagged)}>
            {flagged ? 'Unflag' : 'Flag'}
          </button>
          <button type="button" onClick={() => props.onSeenToggle(!seen)}>
            {seen ? 'Mark unread' : 'Mark read'}
          </button>
          {archive && !summary.mailboxIds[archive.id] && (
            <button type="button" onClick={() => props.onMove(archive.id)}>
              Archive
            </button>
          )}
          <select
            aria-label="Move to"
            class="move-to"
            value=""
            onChange={(e) => {
              const target = (e.target as HTMLSelectElement).value;
              if (target) props.onMove(target);
            }}
          >
            <option value="">Move to…</option>
            {moveTargets.map((m) => (
              <option key={m.id} value={m.id}>
                {mailboxLabel(m)}
              </option>
            ))}
          </select>
          <button type="button" onClick={props.onTrash} aria-keyshortcuts="#">
            {props.trashId && summary.mailboxIds[props.trashId] ? 'Delete forever' : 'Delete'}
          </button>
        </div>
      </header>
      {invitation && <InvitationBar key={invitation.blobId} jmap={jmap} part={invitation} />}
      {thread.length > 1 && (
        <nav class="thread" aria-label="Conversation">
          <p class="thread-title">{thread.length} messages in this conversation</p>
          <ol>
            {thread.map((m) => (
              <li key={m.id}>
                <button
                  type="button"
                  class={`thread-item${m.id === summary.id ? ' current' : ''}`}
                  aria-current={m.id === summary.id ? 'true' : undefined}
                  onClick={() => m.id !== summary.id && props.onOpen(m)}
                >
                  <span class="from">{m.from?.[0] ? m.from[0].name || m.from[0].email : '(unknown sender)'}</span>
                  <time dateTime={m.receivedAt}>{new Date(m.receivedAt).toLocaleString()}</time>
                  <span class="preview">{m.preview}</span>
                </button>
              </li>
            ))}
          </ol>
        </nav>
      )}
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
            <li key={p.blobId} class="attachment">
              {(p.type.startsWith('image/') || isPdf(p)) && (
                <button
                  type="button"
                  class="thumbnail"
                  aria-label={`Preview ${p.name ?? 'attachment'}`}
                  onClick={(e) => openPreview(p, e)}
                >
                  {isPdf(p) ? 'Preview' : <img src={href(p)} alt="" loading="lazy" />}
                </button>
              )}
              <a href={href(p)} download={p.name ?? 'attachment'}>
                {p.name ?? 'attachment'} ({formatSize(p.size)})
              </a>
            </li>
          ))}
        </ul>
      )}
      {preview && dialog && <dialog.PreviewDialog part={preview} href={href(preview)} onClose={closePreview} />}
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

const roleNames: Record<string, string> = {
  inbox: 'Inbox',
  drafts: 'Drafts',
  sent: 'Sent',
  trash: 'Trash',
  junk: 'Junk',
  archive: 'Archive',
};

export function mailboxLabel(m: Mailbox): string {
  return (m.role && roleNames[m.role]) || m.name;
}
