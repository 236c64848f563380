// The admin center: signing in (the web app's session), then one page at a time — users, domains,
// the queue, message trace, service health, and for global administrators continuity, tenants and
// forests — chosen by the URL's fragment (#users…), each a link
// in the navigation. What an administrator sees is what the admin API answers them: a tenant
// administrator their tenant only. A user who is not an administrator is told so.
import { useEffect, useState } from 'preact/hooks';
import { currentSession, type Me, SignedOut, signIn, signOut } from '../jmap.ts';
import { AdminError, adminApi } from './api.ts';
import { Field } from './common.tsx';
import { AliasesPage } from './aliases.tsx';
import { ContinuityPage } from './continuity.tsx';
import { DomainsPage } from './domains.tsx';
import { HealthPage } from './health.tsx';
import { GroupsPage, ResourcesPage, SharedPage } from './mailboxes.tsx';
import { QuarantinePage } from './quarantine.tsx';
import { QueuePage } from './queue.tsx';
import { TenantsPage } from './tenants.tsx';
import { TracePage } from './trace.tsx';
import { UsersPage } from './users.tsx';

/** Who is signed in, with what the admin API says of them. */
export interface Admin extends Me {
  role: 'global-admin' | 'tenant-admin';
  tenant: string;
}

export interface PageProps {
  admin: Admin;
  /** Call when a request finds the session ended. */
  onSignedOut(): void;
}

const pages = [
  { id: 'users', title: 'Users', Page: UsersPage },
  { id: 'aliases', title: 'Aliases', Page: AliasesPage },
  { id: 'groups', title: 'Groups', Page: GroupsPage },
  { id: 'shared', title: 'Shared mailboxes', Page: SharedPage },
  { id: 'resources', title: 'Rooms and equipment', Page: ResourcesPage },
  { id: 'domains', title: 'Domains', Page: DomainsPage },
  { id: 'queue', title: 'Queue', Page: QueuePage },
  { id: 'trace', title: 'Message trace', Page: TracePage },
  { id: 'quarantine', title: 'Quarantine', Page: QuarantinePage },
  { id: 'health', title: 'Service health', Page: HealthPage },
  { id: 'continuity', title: 'Continuity', Page: ContinuityPage, globalOnly: true },
  { id: 'tenants', title: 'Tenants and forests', Page: TenantsPage, globalOnly: true },
];

const pageOf = () => pages.find((p) => `#${p.id}` === location.hash) ?? pages[0];

export function AdminApp() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [admin, setAdmin] = useState<Admin | undefined>(undefined);
  const [refusal, setRefusal] = useState('');
  const [page, setPage] = useState(pageOf());

  useEffect(() => {
    const moved = () => setPage(pageOf());
    addEventListener('hashchange', moved);
    currentSession()
      .then((found) => setMe(found ?? null))
      .catch(() => setMe(null));
    return () => removeEventListener('hashchange', moved);
  }, []);
  useEffect(() => {
    if (!me) return;
    setRefusal('');
    adminApi(me, 'GET', `users/${encodeURIComponent(me.address)}`)
      .then((user) => setAdmin({ ...me, role: user.role, tenant: user.tenant }))
      .catch((e: Error) => {
        if (e instanceof SignedOut) setMe(null);
        else
          setRefusal(
            e instanceof AdminError && e.status === 403 ? `${me.address} is not an administrator.` : e.message,
          );
      });
  }, [me]);
  useEffect(() => {
    document.title = `${page.title} · Holdfast admin center`;
  }, [page]);

  const signedOut = () => {
    setAdmin(undefined);
    setMe(null);
  };
  if (me === undefined) return <p class="loading">Loading…</p>;
  if (me === null) return <SignInForm onSignedIn={setMe} />;
  if (!admin)
    return refusal ? (
      <main class="sign-in">
        <div class="refusal">
          <h1>Holdfast admin center</h1>
          <p role="alert">{refusal}</p>
          <p>
            <a href="/mail/">Go to mail</a>
          </p>
          <button type="button" onClick={() => signOut(me).then(signedOut)}>
            Sign out
          </button>
        </div>
      </main>
    ) : (
      <p class="loading">Loading…</p>
    );
  const { Page } = page;
  return (
    <div class="admin">
      <header class="top">
        <span class="brand">Holdfast admin center</span>
        <span class="me">
          {admin.address} ·{' '}
          {admin.role === 'global-admin' ? 'global administrator' : `administrator of ${admin.tenant}`}
        </span>
        <a href="/mail/">Mail</a>
        <button type="button" onClick={() => signOut(admin).then(signedOut)}>
          Sign out
        </button>
      </header>
      <nav class="admin-nav" aria-label="Admin center">
        <ul>
          {pages
            .filter((p) => !('globalOnly' in p) || admin.role === 'global-admin')
            .map((p) => (
              <li key={p.id}>
                <a href={`#${p.id}`} aria-current={p.id === page.id ? 'page' : undefined}>
                  {p.title}
                </a>
              </li>
            ))}
        </ul>
      </nav>
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: the page scrolls on its own; a page without a field (service health) is scrolled from the keyboard once focused (axe's scrollable-region-focusable) */}
      <main class="admin-page" aria-labelledby="page-title" tabIndex={0}>
        <h1 id="page-title">{page.title}</h1>
        <Page key={page.id} admin={admin} onSignedOut={signedOut} />
      </main>
    </div>
  );
}

function SignInForm(props: { onSignedIn(me: Me): void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError('');
    try {
      props.onSignedIn(await signIn(username.trim(), password));
    } catch (e) {
      setError((e as Error).message);
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <form onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">Holdfast admin center</h1>
        <Field
          label="Email address"
          name="username"
          type="email"
          autocomplete="username"
          required
          value={username}
          onInput={setUsername}
        />
        <Field
          label="Password"
          name="password"
          type="password"
          autocomplete="current-password"
          required
          value={password}
          onInput={setPassword}
        />
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
