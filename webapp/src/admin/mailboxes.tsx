// Groups (their members, outside addresses too), shared mailboxes (who may open them and send as
// them) and rooms and equipment: listed, added and removed; one page each, sharing the list and the
// "Add" form.
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
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

export function ResourcesPage(props: PageProps) {
  return (
    <Collection
      {...props}
      path="resources"
      noun="room or equipment"
      plural="rooms and equipment"
      columns={['Kind']}
      cells={(r) => [r.kind]}
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
