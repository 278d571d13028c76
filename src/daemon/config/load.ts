import { existsSync, readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import type { z } from 'zod'
import { type Config, configSchema, RETIRED_KEYS } from './schema.js'

/** A configuration problem; the message names the key, where it came from and the expected form. */
export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG'
}

/** Flags given on the command line, already split by the CLI parser. */
export interface ConfigFlags {
  config?: string
  name?: string
  dataDir?: string
  host?: string
  port?: string
  redisUrl?: string
  logLevel?: string
  p2pPort?: string
  peer?: string[]
  set?: string[]
}

/** The effective configuration plus what a operator should know about how it was assembled. */
export interface LoadedConfig {
  config: Readonly<Config>
  /** Path of the config file read, if any. */
  file: string | null
  /** Non-fatal remarks, logged at start (e.g. REDIS_URL and AITBC_REDIS_URL disagree). */
  warnings: string[]
}

export const DEFAULT_CONFIG_FILE = '/etc/aitbc/aitbc-node.yaml'

type Tree = Record<string, unknown>

function setPath(tree: Tree, path: string, value: unknown): void {
  const parts = path.split('.')
  let node = tree
  for (const part of parts.slice(0, -1)) {
    if (typeof node[part] !== 'object' || node[part] === null || Array.isArray(node[part])) node[part] = {}
    node = node[part] as Tree
  }
  node[parts.at(-1)!] = value
}

function getPath(tree: Tree, path: string): unknown {
  return path.split('.').reduce<unknown>((n, p) => (n as Tree | undefined)?.[p], tree)
}

/** Env and flag values arrive as strings; whole numbers become numbers so the schema can judge them. */
const scalar = (raw: string): unknown => (/^-?\d+$/.test(raw.trim()) ? Number(raw) : raw)

/** Replaces the port of a /ip4/.../tcp/N multiaddr. */
function withPort(listen: unknown, port: string): unknown {
  const base = typeof listen === 'string' ? listen : '/ip4/0.0.0.0/tcp/7070'
  if (!/^\d+$/.test(port)) return `invalid port "${port}"`
  return base.replace(/\/tcp\/\d+/, `/tcp/${port}`)
}

/**
 * Parses `name=address[@peerid]` peer specs (AITBC_PEERS, --peer); a
 * multiaddr ending in /p2p/<peerid> gives the peer id too.
 */
export function parsePeers(specs: string[], origin: string): { name: string, address: string, peerId?: string }[] {
  return specs
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean)
    .map((spec) => {
      const eq = spec.indexOf('=')
      if (eq <= 0) throw new ConfigError(`${origin}: peer "${spec}" is not of the form name=address or name=address@peerid`)
      const name = spec.slice(0, eq)
      let address = spec.slice(eq + 1)
      let peerId: string | undefined
      const at = address.lastIndexOf('@')
      if (at >= 0) {
        peerId = address.slice(at + 1)
        address = address.slice(0, at)
      }
      const p2p = /^(\/.*)\/p2p\/([^/]+)$/.exec(address)
      if (p2p !== null) {
        if (peerId !== undefined && peerId !== p2p[2]) throw new ConfigError(`${origin}: peer "${spec}" names two different peer ids`)
        address = p2p[1]!
        peerId = p2p[2]
      }
      return peerId === undefined ? { name, address } : { name, address, peerId }
    })
}

interface Override {
  key: string
  origin: string
  apply(tree: Tree): void
}

/** Environment variables that set one key each, with how the text becomes a value. */
const SIMPLE_ENV: readonly [string, string, (v: string) => unknown][] = [
  ['AITBC_NODE_NAME', 'node.name', String],
  ['AITBC_DATA_DIR', 'node.dataDir', String],
  ['AITBC_COORDINATOR_HOST', 'coordinator.host', String],
  ['AITBC_COORDINATOR_PORT', 'coordinator.port', scalar],
  ['AITBC_REDIS_PREFIX', 'redis.prefix', String],
  ['AITBC_P2P_PSK_FILE', 'p2p.pskFile', String],
  ['BLOCKCHAIN_RPC_URL', 'chain.rpcUrl', String],
  ['AITBC_LOG_LEVEL', 'log.level', (v) => v.toLowerCase()],
]

/**
 * Environment variables with their own rule (two names, part of a value, an
 * added list entry); named once here so the reader and the reference agree.
 */
const ENV_REDIS_URL = 'AITBC_REDIS_URL'
const ENV_REDIS_URL_PLAIN = 'REDIS_URL'
const ENV_P2P_PORT = 'AITBC_P2P_PORT'
const ENV_PEERS = 'AITBC_PEERS'
const ENV_API_TOKEN = 'AITBC_API_TOKEN'

/** The environment variable(s) behind each key, as the configuration reference shows them. */
export const ENV_OF_KEY: Readonly<Record<string, string>> = {
  ...Object.fromEntries(SIMPLE_ENV.map(([name, key]) => [key, name])),
  'redis.url': `${ENV_REDIS_URL}, else ${ENV_REDIS_URL_PLAIN}`,
  'p2p.listen': `${ENV_P2P_PORT} (the port only)`,
  'p2p.peers': `${ENV_PEERS} (name=address[@peerid],...)`,
  'auth.tokens': `${ENV_API_TOKEN} (adds one admin token)`,
}

function envOverrides(env: NodeJS.ProcessEnv, warnings: string[]): Override[] {
  const out: Override[] = []
  for (const [name, key, conv] of SIMPLE_ENV) {
    const v = env[name]
    if (v !== undefined && v !== '')
      out.push({ key, origin: `env ${name}`, apply: (t) => setPath(t, key, conv(v)) })
  }
  // Both names are honoured: the seeds disagree, and a coordinator that silently
  // falls back to localhost Redis splits the cluster's registry without a word.
  const aitbcUrl = env[ENV_REDIS_URL]
  const plainUrl = env[ENV_REDIS_URL_PLAIN]
  const redisUrl = aitbcUrl || plainUrl
  if (redisUrl) {
    const origin = `env ${aitbcUrl ? ENV_REDIS_URL : ENV_REDIS_URL_PLAIN}`
    out.push({ key: 'redis.url', origin, apply: (t) => setPath(t, 'redis.url', redisUrl) })
    if (aitbcUrl && plainUrl && aitbcUrl !== plainUrl) {
      warnings.push(`${ENV_REDIS_URL} and ${ENV_REDIS_URL_PLAIN} are both set and differ; ${ENV_REDIS_URL} is used`)
    }
  }
  const p2pPort = env[ENV_P2P_PORT]
  if (p2pPort) {
    out.push({
      key: 'p2p.listen',
      origin: `env ${ENV_P2P_PORT}`,
      apply: (t) => setPath(t, 'p2p.listen', withPort(getPath(t, 'p2p.listen'), p2pPort)),
    })
  }
  const peerSpecs = env[ENV_PEERS]
  if (peerSpecs) {
    const peers = parsePeers([peerSpecs], `env ${ENV_PEERS}`)
    out.push({ key: 'p2p.peers', origin: `env ${ENV_PEERS}`, apply: (t) => setPath(t, 'p2p.peers', peers) })
  }
  const token = env[ENV_API_TOKEN]
  if (token) {
    out.push({
      key: 'auth.tokens',
      origin: `env ${ENV_API_TOKEN}`,
      apply: (t) => {
        const list = (getPath(t, 'auth.tokens') as unknown[] | undefined) ?? []
        setPath(t, 'auth.tokens', [...list, { name: ENV_API_TOKEN, token, scopes: ['admin'] }])
      },
    })
  }
  return out
}

function flagOverrides(flags: ConfigFlags): Override[] {
  const out: Override[] = []
  const simple: [keyof ConfigFlags, string, string, (v: string) => unknown][] = [
    ['name', '--name', 'node.name', String],
    ['dataDir', '--data-dir', 'node.dataDir', String],
    ['host', '--host', 'coordinator.host', String],
    ['port', '--port', 'coordinator.port', scalar],
    ['redisUrl', '--redis-url', 'redis.url', String],
    ['logLevel', '--log-level', 'log.level', (v) => v.toLowerCase()],
  ]
  for (const [flag, spelled, key, conv] of simple) {
    const v = flags[flag]
    if (typeof v === 'string')
      out.push({ key, origin: `flag ${spelled}`, apply: (t) => setPath(t, key, conv(v)) })
  }
  if (flags.p2pPort !== undefined) {
    const p = flags.p2pPort
    out.push({
      key: 'p2p.listen',
      origin: 'flag --p2p-port',
      apply: (t) => setPath(t, 'p2p.listen', withPort(getPath(t, 'p2p.listen'), p)),
    })
  }
  if (flags.peer !== undefined && flags.peer.length > 0) {
    const peers = parsePeers(flags.peer, 'flag --peer')
    out.push({ key: 'p2p.peers', origin: 'flag --peer', apply: (t) => setPath(t, 'p2p.peers', peers) })
  }
  for (const assignment of flags.set ?? []) {
    const eq = assignment.indexOf('=')
    if (eq <= 0)
      throw new ConfigError(
        `flag --set "${assignment}": expected key=value, e.g. --set agents.staleAfterMs=5000`,
      )
    const key = assignment.slice(0, eq)
    const raw = assignment.slice(eq + 1)
    let value: unknown
    try {
      value = JSON.parse(raw)
    } catch {
      value = raw
    }
    out.push({ key, origin: `flag --set ${key}`, apply: (t) => setPath(t, key, value) })
  }
  return out
}

function readConfigFile(path: string): Tree {
  const doc = readYamlFile(path)
  if (doc === null || doc === undefined) return {}
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new ConfigError(`config file ${path}: expected a mapping at the top`)
  return doc as Tree
}

function readYamlFile(path: string): unknown {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`config file ${path} cannot be read: ${(err as Error).message}`, { cause: err })
  }
  try {
    return parseYaml(text) as unknown
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid YAML: ${(err as Error).message}`, { cause: err })
  }
}

function describe(
  issue: z.core.$ZodIssue,
  tree: Tree,
  origins: Map<string, string>,
  file: string | null,
): string {
  const path = issue.path.join('.')
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => (path ? `${path}.${k}` : k))
    return `unknown config key ${keys.join(', ')}${file ? ` in ${file}` : ''}; see config/aitbc-node.example.yaml for the keys`
  }
  const origin =
    [...origins.entries()].find(([k]) => path === k || path.startsWith(`${k}.`))?.[1] ??
    (file ? `file ${file}` : 'default')
  const got = getPath(tree, path)
  const shown = path.startsWith('auth.tokens') ? '' : ` (got ${JSON.stringify(got)})`
  return `config ${path || '(root)'} from ${origin}: ${issue.message}${shown}`
}

/** File, then environment, then flags; validated once and frozen. */
export function loadConfig(opts: { flags?: ConfigFlags, env?: NodeJS.ProcessEnv } = {}): LoadedConfig {
  const flags = opts.flags ?? {}
  const env = opts.env ?? {}
  const warnings: string[] = []
  const explicit = flags.config ?? env.AITBC_CONFIG
  const file = explicit ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : null)
  const tree = file === null ? {} : readConfigFile(file)

  const origins = new Map<string, string>()
  for (const o of [...envOverrides(env, warnings), ...flagOverrides(flags)]) {
    o.apply(tree)
    origins.set(o.key, o.origin)
  }
  const tokensFile = getPath(tree, 'auth.tokensFile')
  if (typeof tokensFile === 'string') {
    const extra = readYamlFile(tokensFile)
    const list = Array.isArray(extra) ? extra : (extra as Tree | null)?.tokens
    if (!Array.isArray(list))
      throw new ConfigError(`tokens file ${tokensFile}: expected a list of {name, token, scopes}`)
    setPath(tree, 'auth.tokens', [...((getPath(tree, 'auth.tokens') as unknown[]) ?? []), ...list])
    origins.set('auth.tokens', `tokens file ${tokensFile}`)
  }

  const retired = Object.keys(RETIRED_KEYS).filter((key) => getPath(tree, key) !== undefined)
  if (retired.length > 0) {
    const where = (key: string): string => origins.get(key) ?? (file ? `file ${file}` : 'default')
    throw new ConfigError(retired.map((key) => `config ${key} from ${where(key)}: ${RETIRED_KEYS[key]}`).join('\n'))
  }
  const result = configSchema.safeParse(tree)
  if (!result.success) {
    const lines = result.error.issues.map((i) => describe(i, tree, origins, file))
    throw new ConfigError(lines.join('\n'))
  }
  const config = result.data
  if (config.agents.removeAfterMs <= config.agents.staleAfterMs) {
    throw new ConfigError(
      'config agents.removeAfterMs: expected more than agents.staleAfterMs (an agent is stale before it is removed)',
    )
  }
  if (config.coordinator.headersTimeoutMs > config.coordinator.requestTimeoutMs) {
    throw new ConfigError('config coordinator.headersTimeoutMs: expected at most coordinator.requestTimeoutMs (the headers are part of the request)')
  }
  if (!(config.p2p.suspectAfterMs < config.p2p.offlineAfterMs)) {
    throw new ConfigError('config p2p.offlineAfterMs: expected more than p2p.suspectAfterMs')
  }
  const keepalive = config.p2p.statusKeepaliveMs
  if (keepalive !== null && !(keepalive >= config.p2p.statusIntervalMs && keepalive < config.p2p.suspectAfterMs)) {
    throw new ConfigError(
      'config p2p.statusKeepaliveMs: expected at least p2p.statusIntervalMs and less than p2p.suspectAfterMs (an idle node would look degraded)',
    )
  }
  return { config: deepFreeze(config), file, warnings }
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}

/** The config with every secret replaced, for `config check` and logs. */
export function redactConfig(config: Config): unknown {
  return {
    ...config,
    redis: { ...config.redis, url: config.redis.url === null ? null : redactUrl(config.redis.url) },
    auth: { ...config.auth, tokens: config.auth.tokens.map((t) => ({ ...t, token: '[redacted]' })) },
  }
}

/** A Redis URL without its password. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z+]+:\/\/)([^@/]*)@/i, (_m, scheme: string, auth: string) => {
    const user = auth.includes(':') ? auth.slice(0, auth.indexOf(':')) : ''
    return `${scheme}${user}:[redacted]@`
  })
}
