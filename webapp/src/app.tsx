// The app: the sign-in form, then the mail view (mail.tsx), the calendar (calendar/, a chunk loaded
// when first opened) or the settings (settings.tsx). Mail and Calendar are switched from the bar at
// the top; which one is open is in the address's fragment (#mail, #calendar/week/2026-12-07).
import type { ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { CalendarRoute, CalendarView as CalendarViewType } from './calendar/calendar-view.tsx';
import { AdminLink } from './admin/admin-link.tsx';
import { currentSession, type Me, signIn } from './jmap.ts';
import { MailView } from './mail.tsx';
import { SettingsView } from './settings.tsx';

export function App() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [error, setError] = useState('');
  const [view, setView] = useState<'mail' | 'settings'>('mail');
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const changed = () => {
      setHash(location.hash);
      setView('mail');
    };
    window.addEventListener('hashchange', changed);
    return () => window.removeEventListener('hashchange', changed);
  }, []);
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
  const section = hash.startsWith('#calendar') ? 'calendar' : 'mail';
  return (
    <div class="shell">
      <nav class="app-switch" aria-label="Apps">
        <a href="#mail" aria-current={section === 'mail' && view === 'mail' ? 'page' : undefined}>
          Mail
        </a>
        <a href="#calendar" aria-current={section === 'calendar' && view === 'mail' ? 'page' : undefined}>
          Calendar
        </a>
      </nav>
      <div class="shell-body">
        {view === 'settings' ? (
          <SettingsView me={me} onBack={() => setView('mail')} onSignedOut={signedOut} />
        ) : section === 'calendar' ? (
          <LazyCalendar me={me} hash={hash} onSignedOut={signedOut} />
        ) : (
          <>
            <MailView me={me} onSignedOut={signedOut} onSettings={() => setView('settings')} />
            <AdminLink me={me} />
          </>
        )}
      </div>
    </div>
  );
}

type CalendarModule = {
  CalendarView: typeof CalendarViewType;
  routeOf(hash: string, zone: string): CalendarRoute;
  hashOf(route: CalendarRoute): string;
  chosenZone(): string;
};
let calendarModule: Promise<CalendarModule> | undefined;

/** The calendar, its code fetched the first time it is opened. */
function LazyCalendar(props: { me: Me; hash: string; onSignedOut(): void }) {
  const [loaded, setLoaded] = useState<CalendarModule | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    calendarModule ??= import('./calendar/calendar-view.tsx');
    calendarModule.then(setLoaded, (e: Error) => {
      calendarModule = undefined;
      setError(`The calendar could not be loaded: ${e.message}`);
    });
  }, []);
  if (error)
    return (
      <p class="error" role="alert">
        {error}
      </p>
    );
  if (!loaded) return <p class="loading">Loading the calendar…</p>;
  const View = loaded.CalendarView as ComponentType<Parameters<typeof CalendarViewType>[0]>;
  return (
    <View
      me={props.me}
      route={loaded.routeOf(props.hash, loaded.chosenZone())}
      onNavigate={(route) => {
        location.hash = loaded.hashOf(route);
      }}
      onSignedOut={props.onSignedOut}
    />
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
