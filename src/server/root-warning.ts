// Holdfast does not switch to another user by itself. It opens (and on a first start creates) the
// database, its WAL, the blob files and the TLS key before the listeners are bound; after a switch
// those root-owned files could no longer be written, and half-fixing ownership at start is worse
// than starting as the right user. The service manager does that well (contrib/holdfast.service,
// or the container image): it starts Holdfast unprivileged with only CAP_NET_BIND_SERVICE.
// Started as root, Holdfast says so and how to do better.

export function rootWarning(uid: number | undefined, env: Record<string, string | undefined>): string | undefined {
  if (uid !== 0) return undefined;
  // systemd sets INVOCATION_ID for every unit it starts.
  const how = env.INVOCATION_ID
    ? 'add User=holdfast, AmbientCapabilities=CAP_NET_BIND_SERVICE and the rest of contrib/holdfast.service to this unit'
    : 'install contrib/holdfast.service (systemd starts it as the user holdfast with only the right to bind ports below 1024), use the container image (contrib/Containerfile), or start it as another user with ports above 1023';
  return `Holdfast is running as root, which it does not need: a flaw in any part of it would give the whole machine away. Run it as an unprivileged user: ${how}. See docs/operations.md, "Running as a service"`;
}
