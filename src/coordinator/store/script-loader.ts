import type { Cluster } from 'ioredis'
import { createHash } from 'node:crypto'
import { includeText, readScript } from './lua-files.js'
import type { RedisClient } from './redis-client.js'

/** A script as EVALSHA sends it: its includes and text, and their sha1. */
interface Script {
  lua: string
  sha: string
}

export interface ScriptLibraryInit<Name extends string> {
  /** The library's name before the hash of its text ("aitbc_tasks"). */
  name: string
  /** Each script's file under lua/, without .lua ("tasks/submit"). */
  scripts: Record<Name, string>
  /**
   * Data written into the text where a file has the string literal '@key'
   * (the task scripts' key layout as JSON); default none. Settings never go
   * here: they travel as arguments, so daemons with other settings share
   * one library.
   */
  values?: Record<string, string>
}

/**
 * Loads and runs the Lua scripts of one group (lua/tasks, lua/registry,
 * lua/messages): the one way scripts reach Redis.
 *
 * On Redis 7 and later a group is one function library (`FUNCTION LOAD`,
 * named by a hash of its text, so daemons with another key prefix each have
 * their own and never replace each other's): the included helpers run once
 * when the library loads, and a call (`FCALL`) runs only its script. Where
 * Redis has no functions (before 7.0, or the FUNCTION command renamed away),
 * or the Redis user's ACL does not allow FUNCTION, each script is its
 * includes and its text, sent with EVALSHA (EVAL when Redis lacks it).
 *
 * A library that went away (FUNCTION FLUSH, a Cluster failover to a primary
 * that never had it) is loaded again on the first call that misses it.
 */
export class ScriptLibrary<Name extends string> {
  private readonly library: string
  private readonly text: string
  private readonly parts: Record<Name, { includes: string[], body: string }>
  private readonly values: Record<string, string>
  /** The EVALSHA form (text and its sha1), made only where Redis runs no functions. */
  private scripts: Record<Name, Script> | null = null
  /** null until the first call finds out which way Redis runs them. */
  private mode: 'functions' | 'scripts' | null = null
  private loading: Promise<void> | null = null

  constructor(private readonly redis: RedisClient, init: ScriptLibraryInit<Name>) {
    this.values = init.values ?? {}
    this.parts = {} as Record<Name, { includes: string[], body: string }>
    const includes: string[] = []
    for (const [name, path] of entries(init.scripts)) {
      const script = readScript(path)
      this.parts[name] = script
      for (const inc of script.includes) if (!includes.includes(inc)) includes.push(inc)
    }
    const head = includes.map((inc) => this.fill(includeText(inc))).join('\n')
    const hash = createHash('sha1').update(head)
    for (const [name] of entries(init.scripts)) hash.update(name).update(this.parts[name].body)
    this.library = `${init.name}_${hash.digest('hex').slice(0, 16)}`
    const text = [`#!lua name=${this.library}`, head]
    for (const [name] of entries(init.scripts)) {
      text.push(`redis.register_function('${this.library}_${name}', function(KEYS, ARGV)\n${this.fill(this.parts[name].body)}\nend)`)
    }
    this.text = text.join('\n')
  }

  /** The library's name in Redis (the same for every daemon with the same scripts and values). */
  get name(): string {
    return this.library
  }

  /** Runs one: `keys` then `args`, as KEYS and ARGV. A library found missing is loaded again, once per call. */
  async call(name: Name, keys: readonly string[], args: readonly string[], reloaded = false): Promise<unknown> {
    if (this.mode === null) await this.load()
    if (this.scripts !== null) return this.evalsha(this.scripts[name], keys, args)
    try {
      return await this.redis.fcall(`${this.library}_${name}`, keys.length, ...keys, ...args)
    } catch (err) {
      if (reloaded || !isMissingFunction(err)) throw err
      this.mode = null
      await this.load()
      return this.call(name, keys, args, true)
    }
  }

  /** EVALSHA, and EVAL (which caches the script) when Redis does not have it yet. */
  private async evalsha(script: Script, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    try {
      return await this.redis.evalsha(script.sha, keys.length, ...keys, ...args)
    } catch (err) {
      if (!isNoScript(err)) throw err
      return this.redis.eval(script.lua, keys.length, ...keys, ...args)
    }
  }

  /** Writes the values in for their '@key' literals. */
  private fill(text: string): string {
    return text.replace(/'@([A-Za-z_]+)'/g, (whole, key: string) => {
      const value = this.values[key]
      return value === undefined ? whole : luaString(value)
    })
  }

  /** Each script as its includes and its text. */
  private defineScripts(): Record<Name, Script> {
    const scripts = {} as Record<Name, Script>
    for (const [name, part] of entries(this.parts)) {
      const lua = [...part.includes.map(includeText), part.body].map((t) => this.fill(t)).join('\n')
      scripts[name] = { lua, sha: createHash('sha1').update(lua).digest('hex') }
    }
    return scripts
  }

  /** Loads the library (on every primary of a Cluster), or settles on scripts where Redis has no functions. */
  private load(): Promise<void> {
    this.loading ??= this.loadOnce().finally(() => {
      this.loading = null
    })
    return this.loading
  }

  private async loadOnce(): Promise<void> {
    try {
      const targets = await this.primaries()
      await Promise.all(targets.map(async (node) => {
        try {
          await node.function('LOAD', this.text)
        } catch (err) {
          // Loaded already, by this daemon before or by another: the name is the text's hash.
          if (!isAlreadyLoaded(err)) throw err
        }
      }))
      this.mode = 'functions'
    } catch (err) {
      // No FUNCTION command, or not for this Redis user (an ACL that allows scripts only).
      if (!isUnknownCommand(err) && !isNotPermitted(err)) throw err
      this.scripts ??= this.defineScripts()
      this.mode = 'scripts'
    }
  }

  /** Where the library goes: the server, or every primary of a Cluster (known once the client is ready). */
  private async primaries(): Promise<RedisClient[]> {
    if (!isCluster(this.redis)) return [this.redis]
    if (this.redis.status !== 'ready') await this.redis.echo('aitbc')
    return this.redis.nodes('master')
  }
}

function entries<K extends string, V>(record: Record<K, V>): [K, V][] {
  return Object.entries(record) as [K, V][]
}

/** A Lua string literal of any text: every byte outside a safe set written as \ddd, so data can never end the literal. */
function luaString(text: string): string {
  let out = '\''
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte)
    out += /[A-Za-z0-9 _:.{}@#$%^&*()+=,;<>/?|~!-]/.test(c) ? c : `\\${String(byte).padStart(3, '0')}`
  }
  return `${out}'`
}

function isCluster(redis: RedisClient): redis is Cluster {
  return (redis as Cluster).isCluster === true
}

/** Redis's own error texts: the only way its replies say what went wrong. */
function isMissingFunction(err: unknown): boolean {
  return err instanceof Error && /^ERR Function not found/i.test(err.message)
}

function isNoScript(err: unknown): boolean {
  return err instanceof Error && /^NOSCRIPT/.test(err.message)
}

function isAlreadyLoaded(err: unknown): boolean {
  return err instanceof Error && /^ERR Library '[^']*' already exists/i.test(err.message)
}

function isUnknownCommand(err: unknown): boolean {
  return err instanceof Error && /^ERR unknown command/i.test(err.message)
}

function isNotPermitted(err: unknown): boolean {
  return err instanceof Error && /^NOPERM/.test(err.message)
}
