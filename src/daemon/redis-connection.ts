import { Cluster, Redis, type RedisOptions } from 'ioredis'
import type { Logger } from 'pino'
import type { RedisClient } from '../coordinator/index.js'
import { redactUrl } from './config/load.js'

/** Where the registry lives, without secrets: logged at start and (later) gossiped. */
export interface RegistryLocation {
  kind: 'single' | 'sentinel' | 'cluster' | 'unix'
  hosts: string[]
  db: number
  prefix: string
  url: string
}

// Commands fail fast while Redis is away (the API answers 503) instead of
// queueing without bound; the client keeps reconnecting on its own.
const COMMON: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  commandTimeout: 2000,
  connectTimeout: 2000,
  retryStrategy: (times) => Math.min(100 * times, 2000),
  // No auto-pipelining: concurrent commands still go out without waiting for
  // each other's replies, and building a Pipeline per tick costs more than the
  // writes it saves (bench:tasks end to end runs about a tenth faster without
  // it; bench:messages is the same either way).
  enableAutoPipelining: false,
}

function hostsOf(list: string): { host: string, port: number }[] {
  return list.split(',').map((hp) => {
    const [host, port] = hp.split(':')
    return { host: host || '127.0.0.1', port: Number(port || 6379) }
  })
}

/**
 * Builds the client for redis://, rediss://, unix:///path[?db=N],
 * redis+sentinel://[:pw@]h1:p1,h2:p2/masterName[/db] and redis+cluster://[:pw@]h1:p1,h2:p2.
 */
export function createRedisClient(
  url: string,
  prefix: string,
): { client: RedisClient, location: RegistryLocation } {
  const safe = redactUrl(url)
  const m = /^(redis\+sentinel|redis\+cluster):\/\/(?:([^@/]*)@)?([^/]+)(?:\/([^/]*))?(?:\/(\d+))?$/.exec(url)
  if (m !== null) {
    const [, scheme, auth, hostList = '', nameOrDb, db] = m
    const password = auth?.includes(':') ? decodeURIComponent(auth.slice(auth.indexOf(':') + 1)) : undefined
    const nodes = hostsOf(hostList)
    const hosts = nodes.map((n) => `${n.host}:${n.port}`)
    if (scheme === 'redis+cluster') {
      const client = new Cluster(nodes, {
        lazyConnect: true,
        enableOfflineQueue: false,
        redisOptions: { ...COMMON, password },
      })
      return { client, location: { kind: 'cluster', hosts, db: 0, prefix, url: safe } }
    }
    const client = new Redis({
      ...COMMON,
      sentinels: nodes,
      name: nameOrDb || 'mymaster',
      password,
      db: Number(db ?? 0),
    })
    return { client, location: { kind: 'sentinel', hosts, db: Number(db ?? 0), prefix, url: safe } }
  }
  if (url.startsWith('unix://')) {
    const u = new URL(url)
    const db = Number(u.searchParams.get('db') ?? 0)
    const client = new Redis({ ...COMMON, path: u.pathname, db })
    return { client, location: { kind: 'unix', hosts: [u.pathname], db, prefix, url: safe } }
  }
  const u = new URL(url)
  const client = new Redis(url, COMMON)
  const db = Number(u.pathname.slice(1) || 0)
  return {
    client,
    location: { kind: 'single', hosts: [`${u.hostname}:${u.port || 6379}`], db, prefix, url: safe },
  }
}

/**
 * The registry client as a service: connects at start (a Redis that is not
 * there yet is no start failure: the client reconnects by itself and the API
 * answers 503 until then) and disconnects at stop.
 */
export class RedisConnection {
  private started = false

  constructor(private readonly client: RedisClient, private readonly location: RegistryLocation, private readonly log: Logger) {
    client.on('error', (err: Error) => log.debug({ err: err.message }, 'redis connection error'))
    client.on('ready', () => log.info({ registry: location }, 'connected to the Redis registry'))
    client.on('end', () => log.debug('redis connection ended'))
  }

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    try {
      await this.client.connect()
    } catch (err) {
      this.log.error(
        { err: (err as Error).message, registry: this.location },
        'Redis registry not reachable yet; API answers 503 until it is',
      )
    }
  }

  stop(): void {
    if (!this.started) return
    this.started = false
    this.client.disconnect()
  }
}
