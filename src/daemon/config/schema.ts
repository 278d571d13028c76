import { hostname } from 'node:os'
import { z } from 'zod'
import { MAX_MESSAGE_BODY_CEILING_BYTES } from '../../p2p/index.js'

const port = z.number().int('expected an integer').min(0).max(65535, 'expected a port number 0-65535')
const ms = (min: number) =>
  z.number().int('expected whole milliseconds').min(min, `expected at least ${min} ms`)
const keep = (ageMs: number, count: number) =>
  z.strictObject({
    ageMs: ms(1000).default(ageMs).describe('Kept this long.'),
    count: z.number().int().min(0).max(10_000_000).default(count).describe('Kept at most this many.'),
  }).prefault({})
const MiB = 1024 * 1024
const boxBounds = (maxMessages: number, maxBytes: number) =>
  z.strictObject({
    maxMessages: z.number().int().min(1).max(10_000_000).default(maxMessages).describe('Messages kept at most.'),
    // At least 1 MiB: a box must hold its largest message.
    maxBytes: z.number().int().min(MiB).max(64 * 1024 * MiB).default(maxBytes).describe('JSON bytes kept at most (at least 1 MiB: a box must hold its largest message).'),
  }).prefault({})
const nodeName = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9._-]{0,62}$/i,
    'expected 1-63 letters, digits, . _ - (e.g. genesis, follower, aitbc1)',
  )
const SCOPE = z.enum(['read', 'agent', 'operate', 'admin'])

const token = z.strictObject({
  name: z.string().min(1, 'expected a name for the token holder').describe('Who holds the token (logs, rate limits).'),
  token: z.string().min(16, 'expected a token of at least 16 characters (aitbc-node keygen token makes one)').describe('The secret, at least 16 characters.'),
  scopes: z.array(SCOPE).min(1, 'expected at least one scope: read, agent, operate, admin').describe('What it may do: read, agent, operate, admin.'),
})

const peerId = z.string().regex(/^[1-9A-HJ-NP-Za-km-z]{40,60}$/, 'expected a peer id (12D3KooW...; aitbc-node init or GET /nodes shows it)')

const peer = z.strictObject({
  name: nodeName.describe('The peer\'s node name.'),
  address: z.string().min(1, 'expected a multiaddr (/ip4/10.0.0.2/tcp/7070) or host:port').describe('Its multiaddr (/ip4/10.0.0.2/tcp/7070) or host:port.'),
  /** The node's peer id: binds the name to it (otherwise it is pinned in the registry on first sight). */
  peerId: peerId.optional().describe('Its peer id: binds the name to it (otherwise it is pinned in the registry on first sight).'),
  /** The SSH fallback path to this node, used when its daemon does not answer. */
  ssh: z
    .strictObject({
      host: z.string().min(1).describe('The SSH fallback\'s host, used when the peer\'s daemon does not answer.'),
      port: port.default(22).describe('SSH port.'),
      user: z.string().min(1).default('root').describe('SSH user.'),
      // Not /root/.ssh: the daemon runs as user aitbc with ProtectHome=yes; `aitbc-node init` creates this key.
      keyFile: z.string().startsWith('/', 'expected an absolute path to a private key').default('/etc/aitbc/ssh/id_ed25519').describe('The private key (aitbc-node init creates it; not in /root/.ssh: the daemon runs with ProtectHome=yes).'),
    })
    .optional(),
})

/** The whole configuration; every object is strict so an unknown key is an error naming it. */
export const configSchema = z.strictObject({
  node: z
    .strictObject({
      name: nodeName.default(() => hostname().split('.')[0]?.toLowerCase() || 'node').describe('This node\'s name, unique in the cluster (genesis, follower, aitbc1, ...); default: the host name up to its first dot.'),
      dataDir: z.string().min(1).default('/var/lib/aitbc/node').describe('Where the node keeps its identity key, the embedded Redis and local state.'),
    })
    .prefault({}),
  p2p: z
    .strictObject({
      listen: z
        .string()
        .startsWith('/', 'expected a multiaddr such as /ip4/0.0.0.0/tcp/7070')
        .default('/ip4/0.0.0.0/tcp/7070').describe('The libp2p listen multiaddr. Off loopback the daemon refuses to start without pskFile or allowlist, unless insecure is true.'),
      peers: z.array(peer).default([]).describe('The other nodes, by name: {name, address, peerId?, ssh?}.'),
      pskFile: z.string().min(1).nullable().default(null).describe('The private-network key file (aitbc-node init or keygen psk writes one); the same file on every node. Replaces p2p.psk.'),
      allowlist: z.array(peerId).default([]).describe('Peer ids allowed to connect, inbound or outbound; [] allows any peer (that has the key, if pskFile is set).'),
      /** Accept any peer on a non-loopback listener with neither psk nor allowlist: must be written explicitly. */
      insecure: z.boolean().default(false).describe('Accept any peer on a non-loopback listener with neither pskFile nor allowlist; must be written explicitly.'),
      /** How often this node's status is checked for a change; a change is published at once. */
      statusIntervalMs: ms(100).default(1000).describe('How often this node\'s status is checked for a change; a change is published at once.'),
      /** Longest time between two publishes of an unchanged status; null: a third of suspectAfterMs, at most 3000. */
      statusKeepaliveMs: ms(100).nullable().default(null).describe('Longest time between two publishes of an unchanged status; null: a third of suspectAfterMs, at most 3000.'),
      /**
       * The same while this node has a connection to every member it knows: each of them pings
       * it, so its status is news only (sent on change) and this is a slow refresh.
       */
      statusLinkedKeepaliveMs: ms(100).default(30_000).describe('The same while this node is connected to every member it knows (they all ping it): a slow refresh.'),
      /** Unheard (no status, no ping answered) this long: degraded; then offline. Pings keep connected members fresh. */
      suspectAfterMs: ms(200).default(9000).describe('Unheard (no status, no ping answered) this long: degraded.'),
      offlineAfterMs: ms(300).default(12_000).describe('Unheard this long: offline. More than suspectAfterMs.'),
      /**
       * Ping liveness of connected members: each interval a few members (fanout, on a ring all
       * nodes walk in step; more in a large cluster so that each is pinged from here at least
       * every suspectAfterMs / 2) and every
       * suspect; a missed ping makes a suspect, offline once nobody reaches it in the window.
       */
      probe: z
        .strictObject({
          intervalMs: ms(50).default(400).describe('How often a round of pings runs.'),
          fanout: z.number().int().min(1).max(100).default(1).describe('Members a round pings besides the suspects, on a ring all nodes walk in step (more in a large cluster, so each is pinged from here at least every suspectAfterMs / 2).'),
          timeoutMs: ms(20).default(400).describe('How long one ping may take before it counts as missed.'),
          suspicionMs: ms(100).default(1000).describe('How long a suspect has to answer anyone after its first missed ping before it is offline; raise it for nodes starved of CPU for longer.'),
          helpers: z.number().int().min(0).max(10).default(2).describe('Other members asked to probe a suspect.'),
          maxHelping: z.number().int().min(1).max(1000).default(8).describe('Probes this node runs at once for other members; more are refused (ERR_PROBE_BUSY).'),
        })
        .prefault({}),
      /**
       * Inbound connections still in their handshake (pnet, noise, muxer), from hosts that are
       * no configured peer's: libp2p's only bound is 10 for the whole node, which idle sockets
       * from a few addresses keep full. Per host (an IPv4 address or an IPv6 /64) at most
       * maxPendingPerHost, each closed after handshakeTimeoutMs; maxPending caps them all.
       * Past a bound a connection is refused and counted (aitbc_p2p_inbound_dropped_total).
       */
      inbound: z
        .strictObject({
          maxPending: z.number().int().min(1).max(100_000).default(256).describe('Handshaking inbound connections from non-peer hosts, in all.'),
          maxPendingPerHost: z.number().int().min(1).max(1000).default(4).describe('The same per host (an IPv4 address or an IPv6 /64).'),
          handshakeTimeoutMs: ms(100).default(3000).describe('An inbound connection still in its handshake after this long is closed.'),
        })
        .prefault({}),
      /**
       * A peer that sends disconnectAfter malformed statuses within windowMs is disconnected and
       * kept out for a minute; a warning per peer and kind at most every warnEveryMs.
       */
      malformedStatuses: z
        .strictObject({
          disconnectAfter: z.number().int().min(1).max(100_000).default(50).describe('Malformed statuses within windowMs after which the peer is disconnected and kept out for a minute.'),
          windowMs: ms(100).default(10_000).describe('The window disconnectAfter counts in.'),
          warnEveryMs: ms(100).default(10_000).describe('At most one warning line per peer and kind this often.'),
        })
        .prefault({}),
    })
    .prefault({}),
  coordinator: z
    .strictObject({
      host: z.string().min(1).default('0.0.0.0').describe('The API\'s listen address. Off loopback the daemon refuses to start without auth.tokens (or auth.anonymous: true).'),
      port: port.default(9001).describe('The API\'s TCP port.'),
      bodyLimitBytes: z
        .number()
        .int()
        .min(1024)
        .max(64 * 1024 * 1024)
        .default(1024 * 1024).describe('Largest request body accepted (413 beyond).'),
      shutdownTimeoutMs: ms(100).default(10_000).describe('How long SIGTERM waits for in-flight requests before cutting connections.'),
      /** Time a client has to send its headers, and its whole request; a stalled body is cut off. */
      headersTimeoutMs: ms(100).default(10_000).describe('Time a client has to send its request headers.'),
      requestTimeoutMs: ms(100).default(30_000).describe('Time a client has to send its whole request; a stalled body is cut off.'),
      /** Open connections at once; more are refused. */
      maxConnections: z.number().int().min(1).max(1_000_000).default(2048).describe('Open connections at once; more are refused.'),
      /**
       * Host names the API answers to besides loopback names, IP literals, node.name and
       * coordinator.host; any other Host header is refused (421 HOST_NOT_ALLOWED), so that a web
       * page cannot reach the API through a name it rebinds to this machine (DNS rebinding).
       */
      allowedHosts: z.array(z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9.])?$/, 'expected a host name without port, e.g. aitbc1.example.org')).max(100).default([]).describe('Host names the API answers to besides loopback names, IP literals, node.name and host; any other Host header gets 421 HOST_NOT_ALLOWED (a guard against DNS rebinding).'),
    })
    .prefault({}),
  redis: z
    .strictObject({
      url: z
        .string()
        .regex(
          /^(rediss?|redis\+sentinel|redis\+cluster|unix):\/\//,
          'expected redis://, rediss://, redis+sentinel://, redis+cluster:// or unix:// URL',
        )
        .nullable()
        .default(null).describe('The shared registry every node of the cluster uses (redis://, rediss://, unix://, redis+sentinel://, redis+cluster://); null: an embedded redis-server in dataDir, fine for one node only.'),
      prefix: z.string().max(64).default('').describe('Key prefix, to share one Redis between clusters; with redis+cluster it needs a hash tag, e.g. "{aitbc}:".'),
      /**
       * /health's check that Redis answers at all: a PING this often, and one unanswered for
       * hungAfterMs marks Redis down (503) at once. A hung Redis keeps its connections open,
       * so nothing else says so before the full check (every 2 s) times out.
       */
      healthPingMs: ms(50).default(200).describe('How often /health PINGs Redis.'),
      hungAfterMs: ms(100).default(450).describe('A PING unanswered this long marks Redis down (503) at once.'),
      embedded: z
        .strictObject({
          port: port.default(0).describe('Also listen on 127.0.0.1:port; 0: a unix socket in dataDir/redis only.'),
          binary: z.string().min(1).default('redis-server').describe('The redis-server program the embedded Redis runs.'),
        })
        .prefault({}),
    })
    // A script touches many keys; on a Cluster they must share one slot, which a hash tag in the prefix gives.
    .refine((r) => r.url === null || !r.url.startsWith('redis+cluster://') || /\{[^{}]+\}/.test(r.prefix), {
      path: ['prefix'],
      message: 'a Redis Cluster needs a prefix with a hash tag, e.g. "{aitbc}:", so that every key a script touches is in one slot',
    })
    .prefault({}),
  auth: z
    .strictObject({
      tokens: z.array(token).default([]).describe('Bearer tokens {name, token, scopes}; scopes: read, agent, operate, admin (aitbc-node keygen token makes one).'),
      tokensFile: z.string().min(1).nullable().default(null).describe('A YAML/JSON file with more tokens (a list, or {tokens: [...]}).'),
      anonymous: z.union([z.boolean(), z.literal('auto')]).default('auto').describe('auto: anonymous requests (every scope) only when no token exists and coordinator.host is loopback; true with tokens is a start error.'),
    })
    .prefault({}),
  agents: z
    .strictObject({
      staleAfterMs: ms(100).default(90_000).describe('An agent with no heartbeat for this long is stale (gets no tasks).'),
      removeAfterMs: ms(200).default(24 * 3600_000).describe('A stale agent is removed after this long; more than staleAfterMs.'),
      sweepIntervalMs: ms(50).nullable().default(null).describe('How often this daemon sweeps agents; null: staleAfterMs / 4.'),
    })
    .prefault({}),
  tasks: z
    .strictObject({
      strategy: z
        .enum(['least_connections', 'round_robin', 'weighted_round_robin', 'resource_based', 'geographic', 'random'])
        .default('least_connections').describe('How tasks go to agents; changeable at run time for every daemon with aitbc-node strategy set.'),
      defaultTimeoutMs: ms(100).default(60_000).describe('Lease of one attempt when a task gives no timeout_ms.'),
      maxTimeoutMs: ms(100).default(3_600_000).describe('The largest timeout_ms a task may give.'),
      defaultMaxRetries: z.number().int().min(0).max(100).default(3).describe('Retries before a task goes to the dead letters.'),
      retryBackoffMs: ms(0).default(1000).describe('Backoff between retries, times the attempt.'),
      maxQueueSize: z.number().int().min(1).default(100_000).describe('Queued tasks per priority (429 QUEUE_FULL beyond).'),
      maxTaskBytes: z.number().int().min(64).max(16 * 1024 * 1024).default(256 * 1024).describe('Largest task_data (413 beyond).'),
      agentCapacity: z.number().int().min(1).max(10_000).default(4).describe('Tasks an agent runs at once when its metadata gives no capacity.'),
      agingMs: ms(100).nullable().default(null).describe('null: strict priority; a number: a queue whose oldest task waited this long is served first.'),
      /** Longest gap between two looks for expired leases (sooner when a lease ends sooner). */
      reclaimIntervalMs: ms(10).default(1000).describe('Longest gap between two looks for expired leases (sooner when a lease ends sooner).'),
      pushTimeoutMs: ms(100).default(10_000).describe('How long a push to an agent\'s /tasks/execute may take.'),
      /**
       * A push that never reaches its agent (refused, no such host, no connection within pushTimeoutMs)
       * is not counted as an attempt and the task goes to another agent. After openAfterFailures such
       * pushes in a row the agent's circuit opens: it takes no task (health 0) until, probeAfterMs later
       * (doubled at each failed probe, at most maxProbeAfterMs), one push tries it again.
       */
      pushCircuit: z
        .strictObject({
          openAfterFailures: z.number().int().min(1).max(1000).default(3).describe('Unreached pushes in a row after which the agent\'s circuit opens (health 0, no tasks).'),
          probeAfterMs: ms(100).default(5000).describe('How long an open circuit waits before one push tries the agent again.'),
          maxProbeAfterMs: ms(100).default(300_000).describe('The wait doubles at each failed try up to this.'),
        })
        .refine((c) => c.maxProbeAfterMs >= c.probeAfterMs, { message: 'expected maxProbeAfterMs >= probeAfterMs', path: ['maxProbeAfterMs'] })
        .prefault({}),
      /** Retention of finished tasks, like BullMQ's removeOnComplete / removeOnFail: by age and by count. */
      keepCompleted: keep(24 * 3600_000, 10_000),
      keepFailed: keep(7 * 24 * 3600_000, 10_000),
      /** Dead letters: kept this long and this many, then deleted. */
      keepDead: keep(7 * 24 * 3600_000, 10_000),
    })
    .prefault({}),
  ops: z
    .strictObject({
      maxConcurrent: z.number().int().min(1).max(50).default(5).describe('Operations at once per daemon, and node actions at once on a node whoever asks.'),
      maxQueued: z.number().int().min(0).max(1000).default(20).describe('Operations waiting for a slot (429 OPS_BUSY beyond).'),
      peerConcurrency: z.number().int().min(1).max(50).default(5).describe('Nodes asked at once within one operation.'),
      // Also the longest a read-only node action (status, health) runs for any caller: those read no journal.
      defaultTimeoutMs: ms(100).default(60_000).describe('Deadline of an operation whose request gives none, and the most a read-only node action runs.'),
      maxTimeoutMs: ms(100).default(120_000).describe('The longest deadline a request may ask for.'),
      gitDir: z.string().min(1).nullable().default(null).describe('The working copy sync --type git fast-forwards; null: none.'),
      serviceManager: z.string().min(1).default('systemctl').describe('What restarts services: <serviceManager> restart <service>.'),
      chainService: z.string().min(1).default('aitbc-blockchain-node').describe('The chain service sync --type blockchain --force restarts.'),
      daemonService: z.string().min(1).default('aitbc-node').describe('The daemon\'s own unit, started over SSH by status --force when the daemon does not answer.'),
      configFiles: z.array(z.string().startsWith('/', 'expected an absolute path')).default([]).describe('Files sync --type configuration compares (sha256) and, with force, copies from genesis.'),
      actions: z
        .record(
          z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/i, 'expected an action name of letters, digits, - and _'),
          z.strictObject({
            command: z.array(z.string().min(1)).min(1, 'expected the program and its arguments, e.g. ["/usr/local/bin/check"]').describe('The program and its arguments.'),
            timeoutMs: ms(100).default(30_000).describe('Longest run of the action.'),
            description: z.string().max(200).default('').describe('What the action does, for listings.'),
            /** Changes something (restarts a service, writes a file): refused without force. */
            requiresForce: z.boolean().default(false).describe('Changes something (restarts a service, writes a file): refused without force.'),
          }),
        )
        .default({}).describe('The only commands coordinate may run, by name: argv, never a shell line.'),
      /** coordinate stops starting new stages once this many targets failed. */
      stopAfterFailures: z.number().int().min(1).default(1).describe('coordinate stops starting new stages once this many targets failed.'),
    })
    .prefault({}),
  ssh: z
    .strictObject({
      knownHostsFile: z.string().min(1).default('/etc/aitbc/known_hosts').describe('Host keys of the SSH fallback, read as OpenSSH reads known_hosts.'),
      connectTimeoutMs: ms(100).default(5000).describe('Longest SSH connect.'),
      commandTimeoutMs: ms(100).default(15_000).describe('Longest command over SSH.'),
    })
    .prefault({}),
  messages: z
    .strictObject({
      defaultTtlMs: ms(100).default(300_000).describe('How long a message is retried when POST /messages gives no ttl_ms.'),
      maxTtlMs: ms(100).max(86_400_000, 'expected at most 86400000 ms (24 h)').default(86_400_000).describe('The largest ttl_ms allowed (at most 24 h).'),
      /** Largest body over the API and from a member (the receiver rejects larger); its ceiling fits the wire frame. */
      maxBodyBytes: z.number().int().min(16).max(MAX_MESSAGE_BODY_CEILING_BYTES).default(64 * 1024).describe('Largest message body (JSON bytes), over the API (413) and from a member (receipt too_large).'),
      /** What this node keeps of the messages it received; past it the oldest are dropped (counted). */
      inbox: boxBounds(10_000, 64 * MiB),
      /** What this node keeps of the messages it sent (queued and finished); oldest finished go first, then 429 OUTBOX_FULL. */
      outbox: boxBounds(10_000, 64 * MiB),
      /**
       * Per sender: a member sending to this node (over: rejected receipt "rate_limited", final), and an API
       * caller's POST /messages by token name (over: 429 RATE_LIMITED).
       */
      rate: z
        .strictObject({
          perSecond: z.number().min(0.1).max(100_000).default(50).describe('Messages per second a sender may keep up.'),
          burst: z.number().int().min(1).max(1_000_000).default(200).describe('Messages a sender may send at once above that rate.'),
        })
        .prefault({}),
    })
    .prefault({}),
  chain: z
    .strictObject({
      rpcUrl: z.url().nullable().default(null).describe('The local blockchain node\'s RPC; null: chain fields are null.'),
      timeoutMs: ms(50).default(2000).describe('Longest chain RPC call.'),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('Log level; SIGHUP re-reads it.'),
    })
    .prefault({}),
})

/** Keys that are gone, and what to write instead: a config that sets one fails to load with this. */
export const RETIRED_KEYS: Readonly<Record<string, string>> = {
  'p2p.psk': 'renamed to p2p.pskFile (the path of the private-network key file); write p2p.pskFile instead',
  'tasks.pollIntervalMs': 'removed: nothing polls (work is announced on Redis); delete it, and use tasks.reclaimIntervalMs to bound how often expired leases are looked for',
}

/** The validated, frozen configuration. */
export type Config = z.infer<typeof configSchema>
