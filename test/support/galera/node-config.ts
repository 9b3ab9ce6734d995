/** Where one Galera node keeps its files and which loopback ports it owns. */
export interface NodeLayout {
  readonly index: number;
  readonly dir: string;
  readonly datadir: string;
  readonly socket: string;
  readonly config: string;
  readonly errorLog: string;
  readonly ports: {
    /** Client connections. */
    readonly sql: number;
    /** Group communication (gmcast.listen_addr). */
    readonly gmcast: number;
    /** Incremental state transfer receiver. */
    readonly ist: number;
    /** Full state transfer (the rsync daemon of a joiner). */
    readonly sst: number;
  };
}

export interface ClusterSettings {
  readonly name: string;
  readonly provider: string;
  readonly nodes: readonly NodeLayout[];
}

/**
 * The whole option file of one node, read with --defaults-file so that no
 * system file (/etc/mysql, ~/.my.cnf) adds the default port or socket of the
 * machine's own server.
 */
export function nodeConfig(cluster: ClusterSettings, node: NodeLayout): string {
  const peers = cluster.nodes.map((n) => `127.0.0.1:${n.ports.gmcast}`).join(',');
  const provider = [
    `gmcast.listen_addr=tcp://127.0.0.1:${node.ports.gmcast}`,
    `base_port=${node.ports.gmcast}`,
    // NOTE: without an explicit IST port a joiner binds gmcast port + 1,
    // which may be another node's port.
    `ist.recv_addr=127.0.0.1:${node.ports.ist}`,
    `ist.recv_bind=127.0.0.1:${node.ports.ist}`,
    'gcache.size=32M',
    // A node killed with SIGKILL is declared gone in seconds, not the default 15 s.
    'evs.keepalive_period=PT0.5S',
    'evs.inactive_check_period=PT0.5S',
    'evs.suspect_timeout=PT2S',
    'evs.inactive_timeout=PT3S',
    'evs.install_timeout=PT3S',
  ].join(';');
  return `[mariadbd]
datadir=${node.datadir}
socket=${node.socket}
pid-file=${node.dir}/mariadbd.pid
log-error=${node.errorLog}
tmpdir=${node.dir}/tmp
port=${node.ports.sql}
bind-address=127.0.0.1
skip-name-resolve
character-set-server=utf8mb4
innodb_buffer_pool_size=32M
innodb_log_file_size=16M
# Throwaway data: no fsync per commit.
innodb_flush_log_at_trx_commit=0
sync_binlog=0
# What Galera requires.
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
wsrep_on=ON
wsrep_provider=${cluster.provider}
wsrep_cluster_name=${cluster.name}
wsrep_cluster_address=gcomm://${peers}
wsrep_node_name=node${node.index}
wsrep_node_address=127.0.0.1:${node.ports.gmcast}
wsrep_node_incoming_address=127.0.0.1:${node.ports.sql}
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:${node.ports.sst}
wsrep_provider_options="${provider}"

[client]
socket=${node.socket}
port=${node.ports.sql}
`;
}
