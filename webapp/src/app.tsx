// The app: the sign-in form, then the mail view (mail.tsx) or the settings (settings.tsx).
import { useEffect, useState } from 'preact/hooks';
import { AdminLink } from './admin/admin-link.tsx';
import { currentSession, type Me, signIn } from './jmap.ts';
import { MailView } from './mail.tsx';
import { SettingsView } from './settings.tsx';

export function App() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [error, setError] = useState('');
  const [view, setView] = useState<'mail' | 'settings'>('mail');
  useEffect(() => {
    currentSession()
      .then((found) => setMe(found ?? null))
      .catch((e: Error) => {
        setError(e.message);
        setMe(null);
      });
  }, []);
  if (me === undefined) return <p class="loading">Loading…</p>;
  if (me === null) return <SignIn onSignedIn={setMe} notice={error} />;
  const signedOut = () => {
    setView('mail');
    setMe(null);
  };
  return view === 'settings' ? (
    <SettingsView me={me} onBack={() => setView('mail')} onSignedOut={signedOut} />
  ) : (
    <>
      <MailView me={me} onSignedOut={signedOut} onSettings={() => setView('settings')} />
      <AdminLink me={me} />
    </>
  );
}

function SignIn(props: { onSignedIn(me: Me): void; notice: string }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState(props.notice);
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
        <h1 id="sign-in-title">Holdfast Mail</h1>
        <label>
          Email address
          <input
            name="username"
            type="email"
            autocomplete="username"
            required
            value={username}
            onInput={(e) => setUsername((e.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
          />
        </label>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
