// Settings: the password (/mail/api/password), automatic replies (JMAP VacationResponse), the
// signature (the JMAP Identity of the user's own address), app tokens and web sessions
// (/mail/api/tokens, /mail/api/sessions). Each section loads and saves on its own.
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { type Identity, Jmap, type Me, mailApi, SignedOut } from './jmap.ts';

type Guard = <T>(action: () => Promise<T>) => Promise<T | undefined>;

export function SettingsView(props: { me: Me; onBack(): void; onSignedOut(): void }) {
  const jmap = useMemo(() => new Jmap(props.me), [props.me]);
  const [ready, setReady] = useState(false);
  const [error, setError] = useState('');
  useEffect(() => {
    jmap.start().then(
      () => setReady(true),
      (e: Error) => (e instanceof SignedOut ? props.onSignedOut() : setError(e.message)),
    );
  }, [jmap]);
  return (
    <div class="settings">
      <header class="top">
        <span class="brand">Holdfast Mail</span>
        <h1 class="settings-title">Settings</h1>
        <span class="status" />
        <span class="me">{props.me.address}</span>
        <button type="button" onClick={props.onBack}>
          Back to mail
        </button>
      </header>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {ready && (
        <main class="settings-sections">
          <PasswordSection me={props.me} onSignedOut={props.onSignedOut} />
          <VacationSection jmap={jmap} onSignedOut={props.onSignedOut} />
          <SignatureSection jmap={jmap} me={props.me} onSignedOut={props.onSignedOut} />
          <TokensSection me={props.me} onSignedOut={props.onSignedOut} />
          <SessionsSection me={props.me} onSignedOut={props.onSignedOut} />
        </main>
      )}
    </div>
  );
}

/** A section with its own message line: `run` shows success or the error, and ends the view when signed out. */
function useSection(onSignedOut: () => void) {
  const [message, setMessage] = useState<{ text: string; bad: boolean } | null>(null);
  const [busy, setBusy] = useState(false);
  const run: Guard = useCallback(
    async (action) => {
      setBusy(true);
      setMessage(null);
      try {
        return await action();
      } catch (e) {
        if (e instanceof SignedOut) onSignedOut();
        else setMessage({ text: (e as Error).message, bad: true });
        return undefined;
      } finally {
        setBusy(false);
      }
    },
    [onSignedOut],
  );
  const done = (text: string) => setMessage({ text, bad: false });
  const line = message && (
    <p class={message.bad ? 'error' : 'saved'} role={message.bad ? 'alert' : 'status'}>
      {message.text}
    </p>
  );
  return { run, done, busy, line };
}

function Section(props: { id: string; title: string; children: ComponentChildren }) {
  return (
    <section class="settings-section" aria-labelledby={props.id}>
      <h2 id={props.id}>{props.title}</h2>
      {props.children}
    </section>
  );
}

/** Updates one object with `Type/set`; throws with the server's words when it is refused. */
async function updateOne(jmap: Jmap, type: string, id: string, patch: Record<string, unknown>) {
  const [set] = await jmap.call([[`${type}/set`, { accountId: jmap.accountId, update: { [id]: patch } }, 'u']]);
  const refused = set.notUpdated?.[id];
  if (refused) throw new Error(refused.description ?? refused.type);
}

/** A form's message line and its submit button. */
function Submit(props: { busy: boolean; label: string; line: ComponentChildren }) {
  return (
    <>
      {props.line}
      <div class="actions">
        <button type="submit" class="primary" disabled={props.busy}>
          {props.label}
        </button>
      </div>
    </>
  );
}

const value = (set: (v: string) => void) => (e: Event) => set((e.target as HTMLInputElement).value);

function PasswordSection(props: { me: Me; onSignedOut(): void }) {
  const { run, done, busy, line } = useSection(props.onSignedOut);
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  return (
    <Section id="password-title" title="Password">
      <form
        class="settings-form"
        onSubmit={async (e) => {
          e.preventDefault();
          await run(async () => {
            if (next !== again) throw new Error('The new passwords differ');
            await mailApi(props.me, 'POST', 'password', { currentPassword: current, newPassword: next });
            setCurrent('');
            setNext('');
            setAgain('');
            done('Password changed. You stay signed in here; your other sessions and devices must sign in again.');
          });
        }}
      >
        <label>
          Current password
          <input type="password" autocomplete="current-password" required value={current} onInput={value(setCurrent)} />
        </label>
        <label>
          New password
          <input type="password" autocomplete="new-password" required value={next} onInput={value(setNext)} />
        </label>
        <label>
          New password again
          <input type="password" autocomplete="new-password" required value={again} onInput={value(setAgain)} />
        </label>
        <p class="hint">
          At least 10 characters of two kinds or more (lower case, upper case, digits, symbols), hard to guess.
        </p>
        <Submit busy={busy} label="Change password" line={line} />
      </form>
    </Section>
  );
}

interface Vacation {
  isEnabled: boolean;
  fromDate: string | null;
  toDate: string | null;
  subject: string | null;
  textBody: string | null;
}

/** A UTCDate as the value of a date input (the local day), and back (the start of that local day, or its end). */
const dayOf = (utc: string | null) => {
  if (!utc) return '';
  const d = new Date(utc);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
};
const utcOf = (day: string, end: boolean) =>
  day ? new Date(`${day}T${end ? '23:59:59' : '00:00:00'}`).toISOString().replace(/\.000Z$/, 'Z') : null;

function VacationSection(props: { jmap: Jmap; onSignedOut(): void }) {
  const { jmap } = props;
  const { run, done, busy, line } = useSection(props.onSignedOut);
  const [vacation, setVacation] = useState<Vacation | null>(null);
  useEffect(() => {
    run(async () => {
      const [got] = await jmap.call([['VacationResponse/get', { accountId: jmap.accountId, ids: null }, 'v']]);
      setVacation(got.list[0]);
    });
  }, [jmap]);
  if (!vacation)
    return (
      <Section id="vacation-title" title="Automatic replies">
        {line ?? <p class="loading">Loading…</p>}
      </Section>
    );
  const change = (patch: Partial<Vacation>) => setVacation({ ...vacation, ...patch });
  return (
    <Section id="vacation-title" title="Automatic replies">
      <form
        class="settings-form"
        onSubmit={async (e) => {
          e.preventDefault();
          await run(async () => {
            await updateOne(jmap, 'VacationResponse', 'singleton', {
              isEnabled: vacation.isEnabled,
              fromDate: vacation.fromDate,
              toDate: vacation.toDate,
              subject: vacation.subject || null,
              textBody: vacation.textBody || null,
            });
            done(vacation.isEnabled ? 'Automatic replies are on' : 'Automatic replies are off');
          });
        }}
      >
        <label class="check">
          <input
            type="checkbox"
            checked={vacation.isEnabled}
            onChange={(e) => change({ isEnabled: (e.target as HTMLInputElement).checked })}
          />
          Reply automatically to messages I receive
        </label>
        <div class="row-fields">
          <label>
            From (optional)
            <input
              type="date"
              value={dayOf(vacation.fromDate)}
              onInput={(e) => change({ fromDate: utcOf((e.target as HTMLInputElement).value, false) })}
            />
          </label>
          <label>
            Until (optional)
            <input
              type="date"
              value={dayOf(vacation.toDate)}
              onInput={(e) => change({ toDate: utcOf((e.target as HTMLInputElement).value, true) })}
            />
          </label>
        </div>
        <label>
          Subject
          <input
            type="text"
            name="vacation-subject"
            value={vacation.subject ?? ''}
            onInput={(e) => change({ subject: (e.target as HTMLInputElement).value })}
          />
        </label>
        <label>
          Reply
          <textarea
            name="vacation-body"
            rows={5}
            value={vacation.textBody ?? ''}
            onInput={(e) => change({ textBody: (e.target as HTMLTextAreaElement).value })}
          />
        </label>
        <Submit busy={busy} label="Save automatic replies" line={line} />
      </form>
    </Section>
  );
}

function SignatureSection(props: { jmap: Jmap; me: Me; onSignedOut(): void }) {
  const { jmap } = props;
  const { run, line } = useSection(props.onSignedOut);
  const [identities, setIdentities] = useState<Identity[] | null>(null);
  useEffect(() => {
    run(async () => {
      const [got] = await jmap.call([['Identity/get', { accountId: jmap.accountId, ids: null }, 'i']]);
      const list = got.list as Identity[];
      const own = ownIdentity(list, props.me.address);
      setIdentities([...(own ? [own] : []), ...list.filter((i) => i !== own)]);
    });
  }, [jmap]);
  return (
    <Section id="signature-title" title="Signature">
      {identities
        ? identities.map((identity) => (
            <SignatureForm
              key={identity.id}
              jmap={jmap}
              identity={identity}
              many={identities.length > 1}
              onSignedOut={props.onSignedOut}
            />
          ))
        : (line ?? <p class="loading">Loading…</p>)}
    </Section>
  );
}

/** One identity's signature (its textSignature, Identity/set). */
function SignatureForm(props: { jmap: Jmap; identity: Identity; many: boolean; onSignedOut(): void }) {
  const { identity } = props;
  const { run, done, busy, line } = useSection(props.onSignedOut);
  const [signature, setSignature] = useState(identity.textSignature ?? '');
  const from = identity.name ? `${identity.name} <${identity.email}>` : identity.email;
  return (
    <form
      class="settings-form signature"
      onSubmit={async (e) => {
        e.preventDefault();
        await run(async () => {
          await updateOne(props.jmap, 'Identity', identity.id, { textSignature: signature });
          done(props.many ? `Signature for ${from} saved` : 'Signature saved');
        });
      }}
    >
      <label>
        Added below new messages, replies and forwards from {from}
        <textarea
          name="signature"
          rows={4}
          value={signature}
          onInput={(e) => setSignature((e.target as HTMLTextAreaElement).value)}
        />
      </label>
      <Submit busy={busy} label={props.many ? `Save signature for ${identity.email}` : 'Save signature'} line={line} />
    </form>
  );
}

/** The identity of the user's own address (the server makes it), else the first. */
export function ownIdentity(identities: Identity[], address: string): Identity | undefined {
  return identities.find((i) => i.email === address && !i.mayDelete) ?? identities.find((i) => i.email === address);
}

interface AppToken {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

function TokensSection(props: { me: Me; onSignedOut(): void }) {
  const { run, done, busy, line } = useSection(props.onSignedOut);
  const [tokens, setTokens] = useState<AppToken[] | null>(null);
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [made, setMade] = useState<{ name: string; token: string } | null>(null);
  const load = () => run(async () => setTokens(await mailApi(props.me, 'GET', 'tokens')));
  useEffect(() => {
    load();
  }, []);
  return (
    <Section id="tokens-title" title="App tokens">
      <p class="hint">
        An app token lets a mail app sign in with JMAP instead of your password. It is shown once; revoke it when the
        device is gone.
      </p>
      {made && (
        <p class="new-token" role="status">
          Token for {made.name}: <code>{made.token}</code> (copy it now: it is not shown again)
        </p>
      )}
      {tokens && tokens.length > 0 ? (
        <ul class="settings-list" aria-label="App tokens">
          {tokens.map((t) => (
            <li key={t.id}>
              <span class="item-name">{t.name}</span>
              <span class="item-detail">
                made {when(t.createdAt)}, {t.lastUsedAt ? `last used ${when(t.lastUsedAt)}` : 'never used'}
              </span>
              <button
                type="button"
                aria-label={`Revoke ${t.name}`}
                onClick={() =>
                  run(async () => {
                    await mailApi(props.me, 'DELETE', `tokens/${t.id}`);
                    setTokens(tokens.filter((x) => x.id !== t.id));
                    done(`Revoked ${t.name}`);
                  })
                }
              >
                Revoke
              </button>
            </li>
          ))}
        </ul>
      ) : (
        tokens && <p class="empty-list">No app tokens.</p>
      )}
      <form
        class="settings-form inline"
        onSubmit={async (e) => {
          e.preventDefault();
          await run(async () => {
            const answer = await mailApi(props.me, 'POST', 'tokens', { name, password });
            setMade({ name: answer.name, token: answer.token });
            setName('');
            setPassword('');
            setTokens([...(tokens ?? []), answer]);
          });
        }}
      >
        <label>
          Token name
          <input type="text" name="token-name" required maxLength={100} value={name} onInput={value(setName)} />
        </label>
        <label>
          Your password
          <input
            type="password"
            name="token-password"
            autocomplete="current-password"
            required
            value={password}
            onInput={value(setPassword)}
          />
        </label>
        <button type="submit" disabled={busy}>
          Make token
        </button>
      </form>
      {line}
    </Section>
  );
}

interface SessionInfo {
  handle: string;
  createdAt: string;
  lastSeenAt: string;
  remoteAddress: string;
  userAgent: string;
  current: boolean;
}

function SessionsSection(props: { me: Me; onSignedOut(): void }) {
  const { run, done, busy, line } = useSection(props.onSignedOut);
  const [sessions, setSessions] = useState<SessionInfo[] | null>(null);
  const load = () => run(async () => setSessions(await mailApi(props.me, 'GET', 'sessions')));
  useEffect(() => {
    load();
  }, []);
  const others = (sessions ?? []).filter((s) => !s.current).length;
  return (
    <Section id="sessions-title" title="Sessions">
      <p class="hint">Where you are signed in to this web app.</p>
      {sessions && (
        <ul class="settings-list" aria-label="Sessions">
          {sessions.map((s) => (
            <li key={s.handle} class={s.current ? 'current' : undefined}>
              <span class="item-name">{describeAgent(s.userAgent)}</span>
              <span class="item-detail">
                {s.remoteAddress}, signed in {when(s.createdAt)}, last active {when(s.lastSeenAt)}
                {s.current ? ' — this session' : ''}
              </span>
              {!s.current && (
                <button
                  type="button"
                  aria-label={`Sign out the session from ${s.remoteAddress} signed in ${when(s.createdAt)}`}
                  onClick={() =>
                    run(async () => {
                      await mailApi(props.me, 'DELETE', `sessions/${s.handle}`);
                      setSessions(sessions.filter((x) => x.handle !== s.handle));
                      done('Signed out that session');
                    })
                  }
                >
                  Sign out
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {line}
      <div class="actions">
        <button
          type="button"
          disabled={busy || others === 0}
          onClick={() =>
            run(async () => {
              const { ended } = await mailApi(props.me, 'POST', 'sessions/sign-out-others');
              await load();
              done(`Signed out ${ended} other session${ended === 1 ? '' : 's'}`);
            })
          }
        >
          Sign out everywhere else
        </button>
      </div>
    </Section>
  );
}

const when = (iso: string) => new Date(iso).toLocaleString();

/** A browser's name from its User-Agent, enough to tell sessions apart. */
function describeAgent(agent: string): string {
  const browser =
    /(Edg|Firefox|Chrome|Chromium|Safari)\/[\d.]+/.exec(agent)?.[1]?.replace('Edg', 'Edge') ?? 'A browser';
  const system = /(Windows|Mac OS X|Android|iPhone|iPad|Linux)/.exec(agent)?.[1]?.replace('Mac OS X', 'macOS');
  return system ? `${browser} on ${system}` : browser;
}
