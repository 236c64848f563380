// The configuration of the usual production layout, as the drill runs it on loopback: an etcd
// cluster, PostgreSQL instances managed by Patroni with synchronous replication, and HAProxy sending
// connections to whichever instance Patroni's REST API calls the primary. contrib/cluster/ holds
// these files as generated for three hosts' worth of loopback ports.

export interface EtcdMember {
  name: string;
  clientPort: number;
  peerPort: number;
}

export interface PostgresMember {
  name: string;
  port: number;
  restPort: number;
  dataDir: string;
}

export interface ClusterLayout {
  scope: string;
  etcd: EtcdMember[];
  postgres: PostgresMember[];
  /** Where HAProxy accepts PostgreSQL connections for the primary. */
  haproxyPort: number;
  /** PostgreSQL superuser password (the drill's Holdfast nodes connect as postgres). */
  superuserPassword: string;
  replicationPassword: string;
}

/**
 * The drill's ports are below Linux's ephemeral range (32768-60999): a port in it can be taken at any
 * moment by some client's outgoing connection, and a drill that cannot bind is no drill.
 */
export function drillLayout(base: string): ClusterLayout {
  return {
    scope: 'holdfast-drill',
    etcd: [1, 2, 3].map((i) => ({ name: `etcd${i}`, clientPort: 23377 + 2 * i, peerPort: 23378 + 2 * i })),
    postgres: [1, 2, 3].map((i) => ({
      name: `pg${i}`,
      port: 25431 + i,
      restPort: 28007 + i,
      dataDir: `${base}/pg${i}/data`,
    })),
    haproxyPort: 25400,
    superuserPassword: 'drill-superuser',
    replicationPassword: 'drill-replication',
  };
}

/** etcd's command line for one member (etcd 3.4: v3 API, which Patroni's `etcd3` uses). */
export function etcdArgs(layout: ClusterLayout, member: EtcdMember, dataDir: string): string[] {
  const peer = (m: EtcdMember) => `http://127.0.0.1:${m.peerPort}`;
  return [
    `--name=${member.name}`,
    `--data-dir=${dataDir}`,
    `--listen-client-urls=http://127.0.0.1:${member.clientPort}`,
    `--advertise-client-urls=http://127.0.0.1:${member.clientPort}`,
    `--listen-peer-urls=${peer(member)}`,
    `--initial-advertise-peer-urls=${peer(member)}`,
    `--initial-cluster=${layout.etcd.map((m) => `${m.name}=${peer(m)}`).join(',')}`,
    '--initial-cluster-state=new',
    `--initial-cluster-token=${layout.scope}`,
    // Loopback answers in microseconds: a leader's loss is noticed within a second.
    '--heartbeat-interval=100',
    '--election-timeout=1000',
  ];
}

/**
 * Patroni's configuration for one member. The timings decide how long a dead primary is a dead
 * primary: the leader key lives `ttl` seconds after the last renewal, then a replica takes it and is
 * promoted. `synchronous_mode`: a commit returns once a standby has it, and only such a standby may
 * be promoted, so nothing a client was told is committed is lost in a failover.
 */
export function patroniYaml(layout: ClusterLayout, member: PostgresMember, socketDir: string): string {
  return `scope: ${layout.scope}
namespace: /service/
name: ${member.name}

restapi:
  listen: 127.0.0.1:${member.restPort}
  connect_address: 127.0.0.1:${member.restPort}

etcd3:
  hosts: ${layout.etcd.map((m) => `127.0.0.1:${m.clientPort}`).join(',')}

bootstrap:
  dcs:
    ttl: 10
    loop_wait: 2
    retry_timeout: 4
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: 'on'
        max_connections: 200
        max_wal_senders: 10
        max_replication_slots: 10
        wal_log_hints: 'on'
  initdb:
    - encoding: UTF8
    - data-checksums
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.1/32 md5
    - host all all 127.0.0.1/32 md5

postgresql:
  listen: 127.0.0.1:${member.port}
  connect_address: 127.0.0.1:${member.port}
  data_dir: ${member.dataDir}
  bin_dir: /usr/lib/postgresql/15/bin
  pgpass: ${member.dataDir}/../pgpass
  authentication:
    superuser:
      username: postgres
      password: ${layout.superuserPassword}
    replication:
      username: replicator
      password: ${layout.replicationPassword}
    rewind:
      username: postgres
      password: ${layout.superuserPassword}
  parameters:
    unix_socket_directories: '${socketDir}'

tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
  nosync: false
`;
}

/**
 * HAProxy: one frontend for the primary. Each server is checked through Patroni's REST API
 * (GET /primary answers 200 only on the leader), every second; a server marked down has its
 * sessions cut at once (on-marked-down shutdown-sessions), so clients reconnect to the new primary
 * instead of talking to a demoted one. Client and server timeouts are long: a LISTEN connection is
 * idle for minutes and must not be cut for that.
 */
export function haproxyConfig(layout: ClusterLayout): string {
  return `global
    maxconn 1000

defaults
    mode tcp
    log global
    retries 2
    timeout connect 2s
    timeout client 60m
    timeout server 60m
    timeout check 2s

listen postgres_primary
    bind 127.0.0.1:${layout.haproxyPort}
    option httpchk GET /primary
    http-check expect status 200
    default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions
${layout.postgres.map((m) => `    server ${m.name} 127.0.0.1:${m.port} maxconn 300 check port ${m.restPort}`).join('\n')}
`;
}
