import { Cluster, Redis, type RedisOptions } from 'ioredis'
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
  // each other's replies, and building a Pipeline per tick cost more than the
  // writes it saved (bench:tasks HTTP end to end 2180 -> 2400 tasks/s without
  // it; bench:messages unchanged).
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
