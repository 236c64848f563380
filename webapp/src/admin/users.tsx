// Users: the list (search, pages of 50), adding a user (a password is generated when none is given
// and shown once), and for the user chosen: name, role, quota, sign-in on or off, a new password.
import { useEffect, useState } from 'preact/hooks';
import type { PageProps } from './admin-app.tsx';
import { adminApi, query } from './api.ts';
import { Choice, Field, OutcomeLine, Pager, Section, useRequests } from './common.tsx';

export interface User {
  address: string;
  name: string | null;
  role: 'user' | 'tenant-admin' | 'global-admin';
  quota: number | null;
  quotaText: string;
  disabled: boolean;
  tenant: string;
}

const pageSize = 50;
const roleNames = { user: 'User', 'tenant-admin': 'Tenant administrator', 'global-admin': 'Global administrator' };

export function UsersPage({ admin, onSignedOut }: PageProps) {
  const { outcome, busy, run } = useRequests(onSignedOut);
  const [search, setSearch] = useState('');
  const [applied, setApplied] = useState('');
  const [offset, setOffset] = useState(0);
  const [list, setList] = useState<{ total: number; value: User[] } | undefined>(undefined);
  const [chosen, setChosen] = useState<User | undefined>(undefined);
  const [shownPassword, setShownPassword] = useState<{ address: string; password: string } | undefined>(undefined);
  const roles = (Object.entries(roleNames) as [User['role'], string][]).filter(
    ([role]) => role !== 'global-admin' || admin.role === 'global-admin',
  );

  const load = () =>
    run(() => adminApi(admin, 'GET', `users${query({ search: applied, offset, limit: pageSize })}`)).then(
      (found) => found && setList(found),
    );
  useEffect(() => {
    load();
  }, [applied, offset]);

  const changed = (user: User, message: string) => {
    setChosen(user);
    load();
    return message;
  };

  return (
    <div class="users-page">
      <form
        class="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          setOffset(0);
          setApplied(search.trim());
        }}
      >
        <Field label="Search users" name="search" value={search} onInput={setSearch} placeholder="address or name" />
        <button type="submit">Search</button>
      </form>
      <OutcomeLine outcome={outcome} />
      {shownPassword && (
        <p class="password-note" role="status">
          Password of {shownPassword.address}: <code>{shownPassword.password}</code> (shown once: pass it on now)
        </p>
      )}
      {list && (
        <>
          <table class="admin-table">
            <caption>
              {list.total === 0
                ? 'No users'
                : `Users ${offset + 1}–${Math.min(offset + pageSize, list.total)} of ${list.total}`}
            </caption>
            <thead>
              <tr>
                <th scope="col">Address</th>
                <th scope="col">Name</th>
                <th scope="col">Role</th>
                <th scope="col">Quota</th>
                <th scope="col">Sign-in</th>
                <th scope="col">Tenant</th>
              </tr>
            </thead>
            <tbody>
              {list.value.map((u) => (
                <tr key={u.address} class={chosen?.address === u.address ? 'current' : ''}>
                  <th scope="row">
                    <button type="button" class="link" onClick={() => setChosen(u)} aria-label={`Manage ${u.address}`}>
                      {u.address}
                    </button>
                  </th>
                  <td>{u.name ?? ''}</td>
                  <td>{roleNames[u.role]}</td>
                  <td>{u.quotaText}</td>
                  <td>{u.disabled ? 'disabled' : 'enabled'}</td>
                  <td>{u.tenant}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager offset={offset} size={pageSize} more={offset + pageSize < list.total} onMove={setOffset} />
        </>
      )}
      {chosen && (
        <EditUser
          key={chosen.address}
          user={chosen}
          roles={roles}
          busy={busy}
          save={(changes) =>
            run(
              () => adminApi(admin, 'PATCH', `users/${encodeURIComponent(chosen.address)}`, changes),
              (user: User) => changed(user, `Saved ${user.address}`),
            )
          }
          resetPassword={() =>
            run(
              () => adminApi(admin, 'POST', `users/${encodeURIComponent(chosen.address)}/password`, {}),
              (answer: User & { generatedPassword: string }) => {
                setShownPassword({ address: answer.address, password: answer.generatedPassword });
                return `New password set for ${answer.address}; their sessions end`;
              },
            )
          }
        />
      )}
      <AddUser
        roles={roles}
        busy={busy}
        add={(input) =>
          run(
            () => adminApi(admin, 'POST', 'users', input),
            (user: User & { generatedPassword?: string }) => {
              if (user.generatedPassword) setShownPassword({ address: user.address, password: user.generatedPassword });
              else setShownPassword(undefined);
              return changed(user, `Added ${user.address}`);
            },
          )
        }
      />
    </div>
  );
}

function EditUser(props: {
  user: User;
  roles: [User['role'], string][];
  busy: boolean;
  save(changes: Record<string, unknown>): void;
  resetPassword(): void;
}) {
  const { user } = props;
  const [name, setName] = useState(user.name ?? '');
  const [role, setRole] = useState<string>(user.role);
  const [quota, setQuota] = useState(user.quota === null ? 'unlimited' : user.quotaText);
  const changes = () => ({
    ...(name !== (user.name ?? '') && { name }),
    ...(role !== user.role && { role }),
    ...(quota !== (user.quota === null ? 'unlimited' : user.quotaText) && { quota }),
  });
  return (
    <Section title={`Manage ${user.address}`}>
      <form
        class="admin-form"
        onSubmit={(e) => {
          e.preventDefault();
          props.save(changes());
        }}
      >
        <Field label="Display name" name="name" value={name} onInput={setName} />
        <Choice
          label="Role"
          value={role}
          choices={props.roles.some(([r]) => r === user.role) ? props.roles : [[user.role, roleNames[user.role]]]}
          onChange={setRole}
        />
        <Field label="Quota" name="quota" value={quota} onInput={setQuota} placeholder="e.g. 5GB or unlimited" />
        <div class="buttons">
          <button type="submit" class="primary" disabled={props.busy}>
            Save changes
          </button>
          <button type="button" disabled={props.busy} onClick={() => props.save({ disabled: !user.disabled })}>
            {user.disabled ? 'Enable sign-in' : 'Disable sign-in'}
          </button>
          <button type="button" disabled={props.busy} onClick={props.resetPassword}>
            Reset password
          </button>
        </div>
      </form>
    </Section>
  );
}

function AddUser(props: { roles: [User['role'], string][]; busy: boolean; add(input: Record<string, unknown>): void }) {
  const [address, setAddress] = useState('');
  const [name, setName] = useState('');
  const [role, setRole] = useState('user');
  const [quota, setQuota] = useState('');
  const [password, setPassword] = useState('');
  return (
    <Section title="Add a user">
      <form
        class="admin-form"
        onSubmit={(e) => {
          e.preventDefault();
          props.add({
            address: address.trim(),
            ...(name && { name }),
            role,
            ...(quota && { quota }),
            ...(password && { password }),
          });
        }}
      >
        <Field label="Email address" name="new-address" type="email" required value={address} onInput={setAddress} />
        <Field label="Display name" name="new-name" value={name} onInput={setName} />
        <Choice label="Role" value={role} choices={props.roles} onChange={setRole} />
        <Field label="Quota" name="new-quota" value={quota} onInput={setQuota} placeholder="unlimited" />
        <Field
          label="Password (leave empty to generate one)"
          name="new-password"
          type="password"
          value={password}
          onInput={setPassword}
        />
        <button type="submit" class="primary" disabled={props.busy}>
          Add user
        </button>
      </form>
    </Section>
  );
}
