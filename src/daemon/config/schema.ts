import { hostname } from 'node:os'
import { z } from 'zod'
import { MAX_MESSAGE_BODY_CEILING_BYTES } from '../../p2p/index.js'

const port = z.number().int('expected an integer').min(0).max(65535, 'expected a port number 0-65535')
const ms = (min: number) =>
  z.number().int('expected whole milliseconds').min(min, `expected at least ${min} ms`)
const keep = (ageMs: number, count: number) =>
  z.strictObject({
    ageMs: ms(1000).default(ageMs),
    count: z.number().int().min(0).max(10_000_000).default(count),
  }).prefault({})
const MiB = 1024 * 1024
const boxBounds = (maxMessages: number, maxBytes: number) =>
  z.strictObject({
    maxMessages: z.number().int().min(1).max(10_000_000).default(maxMessages),
    // At least 1 MiB: a box must hold its largest message.
    maxBytes: z.number().int().min(MiB).max(64 * 1024 * MiB).default(maxBytes),
  }).prefault({})
const nodeName = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9._-]{0,62}$/i,
    'expected 1-63 letters, digits, . _ - (e.g. genesis, follower, aitbc1)',
  )
const SCOPE = z.enum(['read', 'agent', 'operate', 'admin'])

const token = z.strictObject({
  name: z.string().min(1, 'expected a name for the token holder'),
  token: z.string().min(16, 'expected a token of at least 16 characters (aitbc-node keygen token makes one)'),
  scopes: z.array(SCOPE).min(1, 'expected at least one scope: read, agent, operate, admin'),
})

const peerId = z.string().regex(/^[1-9A-HJ-NP-Za-km-z]{40,60}$/, 'expected a peer id (12D3KooW...; aitbc-node init or GET /nodes shows it)')

const peer = z.strictObject({
  name: nodeName,
  address: z.string().min(1, 'expected a multiaddr (/ip4/10.0.0.2/tcp/7070) or host:port'),
  /** The node's peer id: binds the name to it (otherwise it is pinned in the registry on first sight). */
  peerId: peerId.optional(),
  /** The SSH fallback path to this node, used when its daemon does not answer. */
  ssh: z
    .strictObject({
      host: z.string().min(1),
      port: port.default(22),
      user: z.string().min(1).default('root'),
      // Not /root/.ssh: the daemon runs as user aitbc with ProtectHome=yes; `aitbc-node init` creates this key.
      keyFile: z.string().startsWith('/', 'expected an absolute path to a private key').default('/etc/aitbc/ssh/id_ed25519'),
    })
    .optional(),
})

/** The whole configuration; every object is strict so an unknown key is an error naming it. */
export const configSchema = z.strictObject({
  node: z
    .strictObject({
      name: nodeName.default(() => hostname().split('.')[0]?.toLowerCase() || 'node'),
      dataDir: z.string().min(1).default('/var/lib/aitbc/node'),
    })
    .prefault({}),
  p2p: z
    .strictObject({
      listen: z
        .string()
        .startsWith('/', 'expected a multiaddr such as /ip4/0.0.0.0/tcp/7070')
        .default('/ip4/0.0.0.0/tcp/7070'),
      peers: z.array(peer).default([]),
      pskFile: z.string().min(1).nullable().default(null),
      allowlist: z.array(peerId).default([]),
      /** Accept any peer on a non-loopback listener with neither psk nor allowlist: must be written explicitly. */
      insecure: z.boolean().default(false),
      /** How often this node's status is checked for a change; a change is published at once. */
      statusIntervalMs: ms(100).default(1000),
      /** Longest time between two publishes of an unchanged status; null: a third of suspectAfterMs, at most 3000. */
      statusKeepaliveMs: ms(100).nullable().default(null),
      /**
       * The same while this node has a connection to every member it knows: each of them pings
       * it, so its status is news only (sent on change) and this is a slow refresh.
       */
      statusLinkedKeepaliveMs: ms(100).default(30_000),
      /** Unheard (no status, no ping answered) this long: degraded; then offline. Pings keep connected members fresh. */
      suspectAfterMs: ms(200).default(9000),
      offlineAfterMs: ms(300).default(12_000),
      /**
       * Ping liveness of connected members: each interval a few members (fanout, on a ring all
       * nodes walk in step; more in a large cluster so that each is pinged from here at least
       * every suspectAfterMs / 2) and every
       * suspect; a missed ping makes a suspect, offline once nobody reaches it in the window.
       */
      probe: z
        .strictObject({
          intervalMs: ms(50).default(400),
          fanout: z.number().int().min(1).max(100).default(1),
          timeoutMs: ms(20).default(400),
          suspicionMs: ms(100).default(1000),
          helpers: z.number().int().min(0).max(10).default(2),
          maxHelping: z.number().int().min(1).max(1000).default(8),
        })
        .prefault({}),
      /**
       * Inbound connections still in their handshake (pnet, noise, muxer), from hosts that are
       * no configured peer's: libp2p's only bound was 10 for the whole node, which idle sockets
       * from a few addresses kept full. Per host (an IPv4 address or an IPv6 /64) at most
       * maxPendingPerHost, each closed after handshakeTimeoutMs; maxPending caps them all.
       * Past a bound a connection is refused and counted (aitbc_p2p_inbound_dropped_total).
       */
      inbound: z
        .strictObject({
          maxPending: z.number().int().min(1).max(100_000).default(256),
          maxPendingPerHost: z.number().int().min(1).max(1000).default(4),
          handshakeTimeoutMs: ms(100).default(3000),
        })
        .prefault({}),
      /**
       * A peer that sends disconnectAfter malformed statuses within windowMs is disconnected and
       * kept out for a minute; a warning per peer and kind at most every warnEveryMs.
       */
      malformedStatuses: z
        .strictObject({
          disconnectAfter: z.number().int().min(1).max(100_000).default(50),
          windowMs: ms(100).default(10_000),
          warnEveryMs: ms(100).default(10_000),
        })
        .prefault({}),
    })
    .prefault({}),
  coordinator: z
    .strictObject({
      host: z.string().min(1).default('0.0.0.0'),
      port: port.default(9001),
      bodyLimitBytes: z
        .number()
        .int()
        .min(1024)
        .max(64 * 1024 * 1024)
        .default(1024 * 1024),
      shutdownTimeoutMs: ms(100).default(10_000),
      /** Time a client has to send its headers, and its whole request; a stalled body is cut off. */
      headersTimeoutMs: ms(100).default(10_000),
      requestTimeoutMs: ms(100).default(30_000),
      /** Open connections at once; more are refused. */
      maxConnections: z.number().int().min(1).max(1_000_000).default(2048),
      /**
       * Host names the API answers to besides loopback names, IP literals, node.name and
       * coordinator.host; any other Host header is refused (421 HOST_NOT_ALLOWED), so that a web
       * page cannot reach the API through a name it rebinds to this machine (DNS rebinding).
       */
      allowedHosts: z.array(z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9.])?$/, 'expected a host name without port, e.g. aitbc1.example.org')).max(100).default([]),
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
        .default(null),
      prefix: z.string().max(64).default(''),
      /**
       * /health's check that Redis answers at all: a PING this often, and one unanswered for
       * hungAfterMs marks Redis down (503) at once. A hung Redis keeps its connections open,
       * so nothing else says so before the full check (every 2 s) times out.
       */
      healthPingMs: ms(50).default(200),
      hungAfterMs: ms(100).default(450),
      embedded: z
        .strictObject({
          port: port.default(0),
          binary: z.string().min(1).default('redis-server'),
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
      tokens: z.array(token).default([]),
      tokensFile: z.string().min(1).nullable().default(null),
      anonymous: z.union([z.boolean(), z.literal('auto')]).default('auto'),
    })
    .prefault({}),
  agents: z
    .strictObject({
      staleAfterMs: ms(100).default(90_000),
      removeAfterMs: ms(200).default(24 * 3600_000),
      sweepIntervalMs: ms(50).nullable().default(null),
    })
    .prefault({}),
  tasks: z
    .strictObject({
      strategy: z
        .enum(['least_connections', 'round_robin', 'weighted_round_robin', 'resource_based', 'geographic', 'random'])
        .default('least_connections'),
      defaultTimeoutMs: ms(100).default(60_000),
      maxTimeoutMs: ms(100).default(3_600_000),
      defaultMaxRetries: z.number().int().min(0).max(100).default(3),
      retryBackoffMs: ms(0).default(1000),
      maxQueueSize: z.number().int().min(1).default(100_000),
      maxTaskBytes: z.number().int().min(64).max(16 * 1024 * 1024).default(256 * 1024),
      agentCapacity: z.number().int().min(1).max(10_000).default(4),
      agingMs: ms(100).nullable().default(null),
      /** Longest gap between two looks for expired leases (sooner when a lease ends sooner). */
      reclaimIntervalMs: ms(10).default(1000),
      pushTimeoutMs: ms(100).default(10_000),
      /**
       * A push that never reaches its agent (refused, no such host, no connection within pushTimeoutMs)
       * is not counted as an attempt and the task goes to another agent. After openAfterFailures such
       * pushes in a row the agent's circuit opens: it takes no task (health 0) until, probeAfterMs later
       * (doubled at each failed probe, at most maxProbeAfterMs), one push tries it again.
       */
      pushCircuit: z
        .strictObject({
          openAfterFailures: z.number().int().min(1).max(1000).default(3),
          probeAfterMs: ms(100).default(5000),
          maxProbeAfterMs: ms(100).default(300_000),
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
      maxConcurrent: z.number().int().min(1).max(50).default(5),
      maxQueued: z.number().int().min(0).max(1000).default(20),
      peerConcurrency: z.number().int().min(1).max(50).default(5),
      // Also the longest a read-only node action (status, health) runs for any caller: those read no journal.
      defaultTimeoutMs: ms(100).default(60_000),
      maxTimeoutMs: ms(100).default(120_000),
      gitDir: z.string().min(1).nullable().default(null),
      serviceManager: z.string().min(1).default('systemctl'),
      chainService: z.string().min(1).default('aitbc-blockchain-node'),
      daemonService: z.string().min(1).default('aitbc-node'),
      configFiles: z.array(z.string().startsWith('/', 'expected an absolute path')).default([]),
      actions: z
        .record(
          z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/i, 'expected an action name of letters, digits, - and _'),
          z.strictObject({
            command: z.array(z.string().min(1)).min(1, 'expected the program and its arguments, e.g. ["/usr/local/bin/check"]'),
            timeoutMs: ms(100).default(30_000),
            description: z.string().max(200).default(''),
            /** Changes something (restarts a service, writes a file): refused without force. */
            requiresForce: z.boolean().default(false),
          }),
        )
        .default({}),
      /** coordinate stops starting new stages once this many targets failed. */
      stopAfterFailures: z.number().int().min(1).default(1),
    })
    .prefault({}),
  ssh: z
    .strictObject({
      knownHostsFile: z.string().min(1).default('/etc/aitbc/known_hosts'),
      connectTimeoutMs: ms(100).default(5000),
      commandTimeoutMs: ms(100).default(15_000),
    })
    .prefault({}),
  messages: z
    .strictObject({
      defaultTtlMs: ms(100).default(300_000),
      maxTtlMs: ms(100).max(86_400_000, 'expected at most 86400000 ms (24 h)').default(86_400_000),
      /** Largest body over the API and from a member (the receiver rejects larger); its ceiling fits the wire frame. */
      maxBodyBytes: z.number().int().min(16).max(MAX_MESSAGE_BODY_CEILING_BYTES).default(64 * 1024),
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
          perSecond: z.number().min(0.1).max(100_000).default(50),
          burst: z.number().int().min(1).max(1_000_000).default(200),
        })
        .prefault({}),
    })
    .prefault({}),
  chain: z
    .strictObject({
      rpcUrl: z.url().nullable().default(null),
      timeoutMs: ms(50).default(2000),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
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
