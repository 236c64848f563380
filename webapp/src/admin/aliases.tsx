// Aliases: extra addresses that reach a user, group or mailbox of the same tenant; listed, added
// and removed.
import { useEffect, useState } from 'preact/hooks';
import type { PageProps } from './admin-app.tsx';
import { adminApi } from './api.ts';
import { Field, OutcomeLine, Section, useRequests } from './common.tsx';

interface Alias {
  alias: string;
  target: string;
  tenant: string;
}

export function AliasesPage({ admin, onSignedOut }: PageProps) {
  const { outcome, busy, run } = useRequests(onSignedOut);
  const [aliases, setAliases] = useState<Alias[] | undefined>(undefined);
  const [alias, setAlias] = useState('');
  const [target, setTarget] = useState('');
  const load = () => run(() => adminApi(admin, 'GET', 'aliases')).then((found) => found && setAliases(found.value));
  useEffect(() => {
    load();
  }, []);
  const change = (work: () => Promise<unknown>, done: string) =>
    run(work, () => {
      load();
      return done;
    });
  return (
    <div class="aliases-page">
      <OutcomeLine outcome={outcome} />
      {aliases && (
        <table class="admin-table">
          <caption>{aliases.length === 1 ? '1 alias' : `${aliases.length} aliases`}</caption>
          <thead>
            <tr>
              <th scope="col">Alias</th>
              <th scope="col">Reaches</th>
              <th scope="col">Tenant</th>
              <th scope="col">Remove</th>
            </tr>
          </thead>
          <tbody>
            {aliases.map((a) => (
              <tr key={a.alias}>
                <th scope="row">{a.alias}</th>
                <td>{a.target}</td>
                <td>{a.tenant}</td>
                <td>
                  <button
                    type="button"
                    disabled={busy}
                    aria-label={`Remove alias ${a.alias}`}
                    onClick={() =>
                      change(
                        () => adminApi(admin, 'DELETE', `aliases/${encodeURIComponent(a.alias)}`),
                        `Removed ${a.alias}`,
                      )
                    }
                  >
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Section title="Add an alias">
        <form
          class="admin-form"
          onSubmit={(e) => {
            e.preventDefault();
            change(
              () => adminApi(admin, 'POST', 'aliases', { alias: alias.trim(), target: target.trim() }),
              `${alias.trim()} now reaches ${target.trim()}`,
            ).then(() => setAlias(''));
          }}
        >
          <Field label="Alias" name="alias" type="email" required value={alias} onInput={setAlias} />
          <Field
            label="Reaches (address in the same tenant)"
            name="target"
            type="email"
            required
            value={target}
            onInput={setTarget}
          />
          <button type="submit" class="primary" disabled={busy}>
            Add alias
          </button>
        </form>
      </Section>
    </div>
  );
}
