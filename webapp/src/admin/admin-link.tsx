// The mail app's way to the admin center: a link shown only to administrators (the admin API answers
// their own user record; anyone else gets 403 and sees nothing).
import { useEffect, useState } from 'preact/hooks';
import type { Me } from '../jmap.ts';
import './admin-link.css';

export function AdminLink(props: { me: Me }) {
  const [admin, setAdmin] = useState(false);
  useEffect(() => {
    fetch(`/admin/users/${encodeURIComponent(props.me.address)}`, { credentials: 'same-origin' })
      .then((response) => setAdmin(response.ok))
      .catch(() => setAdmin(false));
  }, [props.me.address]);
  return admin ? (
    <a class="admin-link" href="/admin/">
      Admin center
    </a>
  ) : null;
}
