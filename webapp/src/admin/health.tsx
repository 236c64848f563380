// Service health: each component's status, and the issues of the last 30 days with their timeline
// of posts, from the Graph-shaped service health API (/admin/serviceAnnouncement/…). A global
// administrator posts an update on an issue (with a new status or not); a tenant administrator sees
// the issues that concern their tenant.
import { useEffect, useState } from 'preact/hooks';
// The statuses an issue may take, from the server's own list (no other server code is bundled).
import { issueStatuses as statuses } from '../../../src/health/components.ts';
import type { PageProps } from './admin-app.tsx';
import { adminApi, when } from './api.ts';
import { Choice, OutcomeLine, Section, useRequests } from './common.tsx';

interface Post {
  createdDateTime: string;
  postType: string;
  description: { content: string };
}

interface Issue {
  id: string;
  title: string;
  impactDescription: string;
  status: string;
  service: string;
  isResolved: boolean;
  startDateTime: string;
  endDateTime: string | null;
  posts: Post[];
}

interface Overview {
  id: string;
  service: string;
  status: string;
  issues: Issue[];
}

/** "serviceDegradation" as "service degradation". */
const words = (status: string) => status.replace(/([A-Z])/g, ' $1').toLowerCase();

export function HealthPage({ admin, onSignedOut }: PageProps) {
  const { outcome, busy, run } = useRequests(onSignedOut);
  const [overviews, setOverviews] = useState<Overview[] | undefined>(undefined);
  const load = () =>
    run(() => adminApi(admin, 'GET', 'serviceAnnouncement/healthOverviews?$expand=issues')).then(
      (found) => found && setOverviews(found.value),
    );
  useEffect(() => {
    load();
  }, []);
  const issues = (overviews ?? []).flatMap((o) => o.issues);

  return (
    <div class="health-page">
      <OutcomeLine outcome={outcome} />
      {overviews && (
        <table class="admin-table">
          <caption>Components</caption>
          <thead>
            <tr>
              <th scope="col">Component</th>
              <th scope="col">Status</th>
              <th scope="col">Open issues</th>
            </tr>
          </thead>
          <tbody>
            {overviews.map((o) => (
              <tr key={o.id} class={o.status === 'serviceOperational' ? '' : 'degraded'}>
                <th scope="row">{o.service}</th>
                <td>{words(o.status)}</td>
                <td>{o.issues.filter((i) => !i.isResolved).length}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {overviews && issues.length === 0 && <p class="empty">No issues in the last 30 days.</p>}
      {issues.map((issue) => (
        <Section key={issue.id} title={`${issue.id}: ${issue.title}`}>
          <p>
            {issue.service} · {words(issue.status)} · since {when(issue.startDateTime)}
            {issue.endDateTime ? ` · ended ${when(issue.endDateTime)}` : ''}
          </p>
          <p class="note">{issue.impactDescription}</p>
          <ol class="timeline" aria-label={`Timeline of ${issue.id}`}>
            {issue.posts.map((p, i) => (
              <li key={i}>
                <time dateTime={p.createdDateTime}>{when(p.createdDateTime)}</time> <span>{p.description.content}</span>
              </li>
            ))}
          </ol>
          {admin.role === 'global-admin' && !issue.isResolved && (
            <PostUpdate
              issue={issue}
              busy={busy}
              post={(message, status) =>
                run(
                  () =>
                    adminApi(admin, 'POST', `serviceAnnouncement/issues/${encodeURIComponent(issue.id)}/posts`, {
                      message,
                      ...(status && { status }),
                    }),
                  () => {
                    load();
                    return `Update posted on ${issue.id}`;
                  },
                )
              }
            />
          )}
        </Section>
      ))}
    </div>
  );
}

function PostUpdate(props: { issue: Issue; busy: boolean; post(message: string, status: string): void }) {
  const [message, setMessage] = useState('');
  const [status, setStatus] = useState('');
  return (
    <form
      class="admin-form"
      onSubmit={(e) => {
        e.preventDefault();
        props.post(message.trim(), status);
        setMessage('');
      }}
    >
      <label>
        Update for {props.issue.id}
        <textarea
          required
          rows={3}
          value={message}
          onInput={(e) => setMessage((e.target as HTMLTextAreaElement).value)}
        />
      </label>
      <Choice
        label="Status"
        value={status}
        choices={[['', `unchanged (${words(props.issue.status)})`], ...statuses.map((s) => [s, words(s)] as const)]}
        onChange={setStatus}
      />
      <button type="submit" class="primary" disabled={props.busy}>
        Post update
      </button>
    </form>
  );
}
