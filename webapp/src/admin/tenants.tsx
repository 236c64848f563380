// Tenants and resource forests (global administrators): each tenant with its forest and how many
// domains and users it has, moved into another forest; a tenant added; the forests with their
// limits (GET/POST/PATCH /admin/tenants, GET /admin/forests).
import { useEffect, useState } from 'preact/hooks';
import type { PageProps } from './admin-app.tsx';
import { adminApi } from './api.ts';
import { Choice, Field, OutcomeLine, Section, useRequests } from './common.tsx';

interface Tenant {
  name: string;
  forest: string;
  domains: number;
  users: number;
}

interface Forest {
  name: string;
  maxConnections: number;
  tenants: number;
}

function MoveForm(props: { tenant: Tenant; forests: Forest[]; busy: boolean; onMove(forest: string): void }) {
  const [forest, setForest] = useState(props.tenant.forest);
  return (
    <form
      class="row-form"
      onSubmit={(e) => {
        e.preventDefault();
        props.onMove(forest);
      }}
    >
      <Choice
        label={`Forest of ${props.tenant.name}`}
        value={forest}
        choices={props.forests.map((f) => [f.name, f.name] as const)}
        onChange={setForest}
      />
      <button type="submit" disabled={props.busy || forest === props.tenant.forest}>
        Move
      </button>
    </form>
  );
}

export function TenantsPage({ admin, onSignedOut }: PageProps) {
  const { outcome, busy, run } = useRequests(onSignedOut);
  const [tenants, setTenants] = useState<Tenant[] | undefined>(undefined);
  const [forests, setForests] = useState<Forest[]>([]);
  const [name, setName] = useState('');
  const [forest, setForest] = useState('default');
  const load = () =>
    run(async () => {
      const [t, f] = await Promise.all([adminApi(admin, 'GET', 'tenants'), adminApi(admin, 'GET', 'forests')]);
      setTenants(t.value);
      setForests(f.value);
    });
  useEffect(() => {
    load();
  }, []);
  return (
    <div class="tenants-page">
      <OutcomeLine outcome={outcome} />
      {tenants && (
        <table class="admin-table">
          <caption>{`${tenants.length} ${tenants.length === 1 ? 'tenant' : 'tenants'}`}</caption>
          <thead>
            <tr>
              <th scope="col">Tenant</th>
              <th scope="col">Forest</th>
              <th scope="col">Domains</th>
              <th scope="col">Users</th>
              <th scope="col">Move to another forest</th>
            </tr>
          </thead>
          <tbody>
            {tenants.map((t) => (
              <tr key={t.name}>
                <th scope="row">{t.name}</th>
                <td>{t.forest}</td>
                <td>{t.domains}</td>
                <td>{t.users}</td>
                <td>
                  <MoveForm
                    tenant={t}
                    forests={forests}
                    busy={busy}
                    onMove={(to) =>
                      run(
                        () => adminApi(admin, 'PATCH', `tenants/${encodeURIComponent(t.name)}`, { forest: to }),
                        (moved: Tenant) => {
                          load();
                          return `Moved ${moved.name} to the forest ${moved.forest}`;
                        },
                      )
                    }
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Section title="Add a tenant">
        <form
          class="admin-form"
          onSubmit={(e) => {
            e.preventDefault();
            run(
              () => adminApi(admin, 'POST', 'tenants', { name: name.trim(), forest }),
              (added: Tenant) => {
                setName('');
                load();
                return `Added the tenant ${added.name} in the forest ${added.forest}`;
              },
            );
          }}
        >
          <Field label="Tenant name" name="tenant" required value={name} onInput={setName} />
          <Choice
            label="Resource forest"
            value={forest}
            choices={forests.map((f) => [f.name, f.name] as const)}
            onChange={setForest}
          />
          <button type="submit" class="primary" disabled={busy}>
            Add tenant
          </button>
        </form>
      </Section>
      <Section title="Resource forests">
        <table class="admin-table">
          <thead>
            <tr>
              <th scope="col">Forest</th>
              <th scope="col">Concurrent SMTP connections</th>
              <th scope="col">Tenants</th>
            </tr>
          </thead>
          <tbody>
            {forests.map((f) => (
              <tr key={f.name}>
                <th scope="row">{f.name}</th>
                <td>{f.maxConnections}</td>
                <td>{f.tenants}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <p class="note">Forests are added and their limits changed with holdfast forest add and set.</p>
      </Section>
    </div>
  );
}
