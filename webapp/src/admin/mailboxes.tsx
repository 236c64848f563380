// Groups (their members, outside addresses too), shared mailboxes (who may open them and send as
// them) and rooms and equipment (a room's capacity and each one's booking policy, shown and edited):
// listed, added and removed; one page each, sharing the list and the "Add" form.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { PageProps } from './admin-app.tsx';
import { adminApi } from './api.ts';
import { Choice, Field, OutcomeLine, Section, useRequests } from './common.tsx';

interface Listed {
  address: string;
  name: string | null;
  tenant: string;
  quotaText?: string;
  kind?: string;
  members?: string[];
  grants?: { grantee: string; fullAccess: boolean; sendAs: boolean }[];
  capacity?: number | null;
  autoAccept?: boolean;
  allowConflicts?: boolean;
  windowDays?: number;
  maxDurationMinutes?: number;
  allowRecurring?: boolean;
  bookInPolicy?: 'everyone' | 'list';
  bookers?: string[];
}

/** One collection of the admin API (groups, shared, resources): its list, what each row shows, adding and removing. */
function Collection(
  props: PageProps & {
    path: 'groups' | 'shared' | 'resources';
    noun: string;
    plural: string;
    columns: string[];
    cells(entry: Listed, act: Act): ComponentChildren[];
    addFields?(values: Record<string, string>, set: (name: string, value: string) => void): ComponentChildren;
    /** Shown under the list (a resource's settings). */
    below?(entries: Listed[], act: Act): ComponentChildren;
  },
) {
  const { admin, path, noun } = props;
  const { outcome, busy, run } = useRequests(props.onSignedOut);
  const [entries, setEntries] = useState<Listed[] | undefined>(undefined);
  const [values, setValues] = useState<Record<string, string>>({});
  const set = (name: string, value: string) => setValues((v) => ({ ...v, [name]: value }));
  const load = () =>
    run(() => adminApi(admin, 'GET', `${path}?limit=500`)).then((found) => found && setEntries(found.value));
  useEffect(() => {
    load();
  }, []);
  const act: Act = (method, route, body, done) =>
    run(
      () => adminApi(admin, method, `${path}/${route}`, body),
      () => {
        load();
        return done;
      },
    );
  return (
    <div>
      <OutcomeLine outcome={outcome} />
      {entries && (
        <table class="admin-table">
          <caption>
            {entries.length === 0
              ? `No ${props.plural}`
              : `${entries.length} ${entries.length === 1 ? noun : props.plural}`}
          </caption>
          <thead>
            <tr>
              <th scope="col">Address</th>
              <th scope="col">Name</th>
              {props.columns.map((c) => (
                <th key={c} scope="col">
                  {c}
                </th>
              ))}
              <th scope="col">Tenant</th>
              <th scope="col">Remove</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.address}>
                <th scope="row">{e.address}</th>
                <td>{e.name ?? ''}</td>
                {props.cells(e, act).map((cell, i) => (
                  <td key={props.columns[i]}>{cell}</td>
                ))}
                <td>{e.tenant}</td>
                <td>
                  <button
                    type="button"
                    disabled={busy}
                    aria-label={`Remove ${e.address}`}
                    onClick={() => act('DELETE', encodeURIComponent(e.address), undefined, `Removed ${e.address}`)}
                  >
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {entries && props.below?.(entries, act)}
      <Section title={`Add a ${noun}`}>
        <form
          class="admin-form"
          onSubmit={(event) => {
            event.preventDefault();
            const body = Object.fromEntries(Object.entries(values).filter(([, v]) => v.trim()));
            run(
              () => adminApi(admin, 'POST', path, body),
              (added: Listed) => {
                setValues({});
                load();
                return `Added ${added.address}`;
              },
            );
          }}
        >
          <Field
            label="Email address"
            name="address"
            type="email"
            required
            value={values.address ?? ''}
            onInput={(v) => set('address', v)}
          />
          <Field label="Display name" name="name" value={values.name ?? ''} onInput={(v) => set('name', v)} />
          {props.addFields?.(values, set)}
          <button type="submit" class="primary" disabled={busy}>
            Add {noun}
          </button>
        </form>
      </Section>
    </div>
  );
}

type Act = (method: string, route: string, body: unknown, done: string) => void;

/** A small form in a row: one address and a button. */
function AddressForm(props: {
  label: string;
  button: string;
  onSubmit(address: string): void;
  children?: ComponentChildren;
}) {
  const [address, setAddress] = useState('');
  return (
    <form
      class="row-form"
      onSubmit={(e) => {
        e.preventDefault();
        props.onSubmit(address.trim());
        setAddress('');
      }}
    >
      <Field label={props.label} value={address} onInput={setAddress} />
      {props.children}
      <button type="submit">{props.button}</button>
    </form>
  );
}

export function GroupsPage(props: PageProps) {
  return (
    <Collection
      {...props}
      path="groups"
      noun="group"
      plural="groups"
      columns={['Members']}
      cells={(g, act) => [
        <>
          <ul class="members">
            {(g.members ?? []).map((m) => (
              <li key={m}>
                {m}{' '}
                <button
                  type="button"
                  class="link"
                  aria-label={`Remove ${m} from ${g.address}`}
                  onClick={() =>
                    act(
                      'DELETE',
                      `${encodeURIComponent(g.address)}/members/${encodeURIComponent(m)}`,
                      undefined,
                      `Removed ${m} from ${g.address}`,
                    )
                  }
                >
                  remove
                </button>
              </li>
            ))}
          </ul>
          <AddressForm
            label={`New member of ${g.address}`}
            button="Add member"
            onSubmit={(member) =>
              act('POST', `${encodeURIComponent(g.address)}/members`, { member }, `Added ${member} to ${g.address}`)
            }
          />
        </>,
      ]}
    />
  );
}

function GrantForm(props: { mailbox: string; act: Act }) {
  const [rights, setRights] = useState('both');
  return (
    <AddressForm
      label={`User to give rights on ${props.mailbox}`}
      button="Grant"
      onSubmit={(user) =>
        props.act(
          'PUT',
          `${encodeURIComponent(props.mailbox)}/grants/${encodeURIComponent(user)}`,
          { fullAccess: rights !== 'send-as', sendAs: rights !== 'full-access' },
          `${user} may now use ${props.mailbox}`,
        )
      }
    >
      <Choice
        label="Rights"
        value={rights}
        choices={[
          ['both', 'Full access and send as'],
          ['full-access', 'Full access'],
          ['send-as', 'Send as'],
        ]}
        onChange={setRights}
      />
    </AddressForm>
  );
}

export function SharedPage(props: PageProps) {
  return (
    <Collection
      {...props}
      path="shared"
      noun="shared mailbox"
      plural="shared mailboxes"
      columns={['Quota', 'Who may use it']}
      cells={(m, act) => [
        m.quotaText,
        <>
          <ul class="members">
            {(m.grants ?? []).map((g) => (
              <li key={g.grantee}>
                {g.grantee} ({[g.fullAccess && 'full access', g.sendAs && 'send as'].filter(Boolean).join(', ')}){' '}
                <button
                  type="button"
                  class="link"
                  aria-label={`Revoke ${g.grantee} on ${m.address}`}
                  onClick={() =>
                    act(
                      'DELETE',
                      `${encodeURIComponent(m.address)}/grants/${encodeURIComponent(g.grantee)}`,
                      undefined,
                      `${g.grantee} may no longer use ${m.address}`,
                    )
                  }
                >
                  revoke
                </button>
              </li>
            ))}
          </ul>
          <GrantForm mailbox={m.address} act={act} />
        </>,
      ]}
      addFields={(values, set) => (
        <Field
          label="Quota"
          name="quota"
          value={values.quota ?? ''}
          onInput={(v) => set('quota', v)}
          placeholder="unlimited"
        />
      )}
    />
  );
}

const yesNo = (value: boolean | undefined) => (value ? 'yes' : 'no');

const durationWords = (minutes: number) =>
  minutes % 60 === 0
    ? `${minutes / 60} h`
    : minutes > 60
      ? `${Math.floor(minutes / 60)} h ${minutes % 60} min`
      : `${minutes} min`;

/** A resource's booking policy in one line. */
function policyText(r: Listed): string {
  return [
    r.autoAccept ? 'accepts at once' : 'a delegate answers',
    r.allowConflicts ? 'conflicts allowed' : 'no conflicts',
    `${r.windowDays} days ahead`,
    `at most ${durationWords(r.maxDurationMinutes ?? 0)}`,
    r.allowRecurring ? 'recurring allowed' : 'no recurring',
    r.bookInPolicy === 'list' ? `only ${(r.bookers ?? []).join(', ')}` : 'anyone in the organisation',
  ].join(' · ');
}

/** The settings of one room or piece of equipment, as a form that saves them (PATCH /admin/resources/{address}). */
function ResourceSettingsForm(props: { resource: Listed; act: Act; onClose(): void }) {
  const r = props.resource;
  const initial = () => ({
    capacity: r.capacity == null ? '' : String(r.capacity),
    autoAccept: yesNo(r.autoAccept),
    allowConflicts: yesNo(r.allowConflicts),
    windowDays: String(r.windowDays ?? ''),
    maxDurationMinutes: String(r.maxDurationMinutes ?? ''),
    allowRecurring: yesNo(r.allowRecurring),
    bookInPolicy: r.bookInPolicy ?? 'everyone',
    bookers: (r.bookers ?? []).join(', '),
  });
  const [v, setV] = useState(initial);
  const form = useRef<HTMLFormElement>(null);
  useEffect(() => setV(initial()), [r]);
  // Opened from the row's "settings": focus moves to the form.
  useEffect(() => form.current?.querySelector<HTMLElement>('input, select')?.focus(), [r.address]);
  const set = (name: keyof ReturnType<typeof initial>) => (value: string) => setV((old) => ({ ...old, [name]: value }));
  const yesNoChoices = [
    ['yes', 'Yes'],
    ['no', 'No'],
  ] as const;
  const number = (text: string) => (/^\s*\d+\s*$/.test(text) ? Number(text) : text);
  return (
    <Section title={`Settings of ${r.address}`}>
      <form
        ref={form}
        class="settings-form"
        onSubmit={(event) => {
          event.preventDefault();
          const bookers = v.bookers
            .split(',')
            .map((b) => b.trim())
            .filter(Boolean);
          props.act(
            'PATCH',
            encodeURIComponent(r.address),
            {
              ...(r.kind === 'room' ? { capacity: v.capacity.trim() ? number(v.capacity) : null } : {}),
              autoAccept: v.autoAccept === 'yes',
              allowConflicts: v.allowConflicts === 'yes',
              windowDays: number(v.windowDays),
              maxDurationMinutes: number(v.maxDurationMinutes),
              allowRecurring: v.allowRecurring === 'yes',
              bookInPolicy: v.bookInPolicy,
              ...(v.bookInPolicy === 'list' ? { bookers } : {}),
            },
            `Saved the settings of ${r.address}`,
          );
        }}
      >
        {r.kind === 'room' && (
          <Field
            label="Capacity (people)"
            name="capacity"
            value={v.capacity}
            onInput={set('capacity')}
            placeholder="not set"
          />
        )}
        <Choice
          label="Accept requests at once"
          value={v.autoAccept}
          choices={yesNoChoices}
          onChange={set('autoAccept')}
        />
        <Choice
          label="Allow conflicting bookings"
          value={v.allowConflicts}
          choices={yesNoChoices}
          onChange={set('allowConflicts')}
        />
        <Field label="Booking window (days)" name="windowDays" value={v.windowDays} onInput={set('windowDays')} />
        <Field
          label="Maximum duration (minutes)"
          name="maxDurationMinutes"
          value={v.maxDurationMinutes}
          onInput={set('maxDurationMinutes')}
        />
        <Choice
          label="Allow recurring meetings"
          value={v.allowRecurring}
          choices={yesNoChoices}
          onChange={set('allowRecurring')}
        />
        <Choice
          label="Who may book"
          value={v.bookInPolicy}
          choices={[
            ['everyone', 'Everyone in the organisation'],
            ['list', 'Only these people and groups'],
          ]}
          onChange={set('bookInPolicy')}
        />
        {v.bookInPolicy === 'list' && (
          <Field
            label="People and groups who may book (comma-separated)"
            name="bookers"
            value={v.bookers}
            onInput={set('bookers')}
          />
        )}
        <div class="buttons">
          <button type="submit" class="primary">
            Save settings
          </button>
          <button type="button" onClick={props.onClose}>
            Close
          </button>
        </div>
      </form>
      {v.autoAccept === 'no' ? (
        <p class="note">
          Requests within the policy wait until someone with write access to its calendar accepts or declines them in
          their calendar app.
        </p>
      ) : null}
    </Section>
  );
}

export function ResourcesPage(props: PageProps) {
  const [editing, setEditing] = useState<string | undefined>(undefined);
  // Once the settings are closed, focus goes back to the row's "settings" button.
  const [closed, setClosed] = useState<string | undefined>(undefined);
  useEffect(() => {
    if (!closed) return;
    document.querySelector<HTMLElement>(`button[aria-label="Settings of ${closed}"]`)?.focus();
    setClosed(undefined);
  }, [closed]);
  return (
    <Collection
      {...props}
      path="resources"
      noun="room or equipment"
      plural="rooms and equipment"
      columns={['Kind', 'Capacity', 'Booking policy']}
      cells={(r) => [
        r.kind,
        r.kind === 'room' ? (r.capacity ?? '—') : '',
        <>
          {policyText(r)}{' '}
          <button
            type="button"
            class="link"
            aria-label={`Settings of ${r.address}`}
            onClick={() => setEditing(r.address)}
          >
            settings
          </button>
        </>,
      ]}
      below={(entries, act) => {
        const resource = entries.find((e) => e.address === editing);
        return (
          resource && (
            <ResourceSettingsForm
              resource={resource}
              act={act}
              onClose={() => {
                setEditing(undefined);
                setClosed(resource.address);
              }}
            />
          )
        );
      }}
      addFields={(values, set) => (
        <Choice
          label="Kind"
          value={values.kind ?? ''}
          choices={[
            ['', 'Choose…'],
            ['room', 'Room'],
            ['equipment', 'Equipment'],
          ]}
          onChange={(v) => set('kind', v)}
        />
      )}
    />
  );
}
