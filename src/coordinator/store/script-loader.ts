import type { Cluster } from 'ioredis'
import type { RedisClient } from './agent-registry.js'
import { createHash } from 'node:crypto'

type Command = (...args: (string | number)[]) => Promise<unknown>

/**
 * How the task scripts run. On Redis 7 and later they are one function
 * library (`FUNCTION LOAD`, named by a hash of its text, so daemons with
 * other prefixes or settings each have their own and never replace each
 * other's): the shared head is run once when the library loads, and a call
 * (`FCALL`) runs only its own body. Where Redis has no functions (before 7.0,
 * or the FUNCTION command renamed away), each script is the head and its
 * body, sent with EVALSHA; so too where the Redis user's ACL does not allow
 * FUNCTION.
 *
 * A library that went away (FUNCTION FLUSH, a Cluster failover to a primary
 * that never had it) is loaded again on the first call that misses it.
 */
export class TaskFunctions<Name extends string> {
  private readonly library: string
  private readonly text: string
  /** The EVALSHA form, made only where Redis runs no functions. */
  private scripts: Record<Name, Command> | null = null
  /** null until the first call finds out which way Redis runs them. */
  private mode: 'functions' | 'scripts' | null = null
  private loading: Promise<void> | null = null

  constructor(
    private readonly redis: RedisClient,
    private readonly head: string,
    private readonly bodies: Record<Name, string>,
  ) {
    const hash = createHash('sha1').update(head).update(JSON.stringify(bodies)).digest('hex').slice(0, 16)
    this.library = `aitbc_tasks_${hash}`
    const parts = [`#!lua name=${this.library}`, head]
    for (const [name, body] of Object.entries(bodies) as [Name, string][]) {
      parts.push(`redis.register_function('${this.library}_${name}', function(KEYS, ARGV)\n${body}\nend)`)
    }
    this.text = parts.join('\n')
  }

  /** Each script as the head and its body, an ioredis command (EVALSHA, EVAL once when Redis lacks it). */
  private defineScripts(): Record<Name, Command> {
    const scripts = {} as Record<Name, Command>
    for (const [name, body] of Object.entries(this.bodies) as [Name, string][]) {
      const lua = `${this.head}\n${body}`
      // One command per script text: repositories with other prefixes or settings on one client get their own.
      const command = `aitbcTask_${name}_${createHash('sha1').update(lua).digest('hex').slice(0, 12)}`
      if (!(command in this.redis)) this.redis.defineCommand(command, { lua })
      scripts[name] = (this.redis as unknown as Record<string, Command>)[command]!.bind(this.redis)
    }
    return scripts
  }

  /** Runs one: `keys` then `args`, as KEYS and ARGV. A library found missing is loaded again, once per call. */
  async call(name: Name, keys: readonly string[], args: readonly string[], reloaded = false): Promise<unknown> {
    if (this.mode === null) await this.load()
    if (this.scripts !== null) return this.scripts[name](keys.length, ...keys, ...args)
    try {
      return await this.redis.fcall(`${this.library}_${name}`, keys.length, ...keys, ...args)
    } catch (err) {
      if (reloaded || !isMissingFunction(err)) throw err
      this.mode = null
      await this.load()
      return this.call(name, keys, args, true)
    }
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
          // Loaded already, by this daemon before or by another with the same settings: the name is the text's hash.
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

function isCluster(redis: RedisClient): redis is Cluster {
  return (redis as Cluster).isCluster === true
}

/** Redis's own error texts: the only way its replies say what went wrong. */
function isMissingFunction(err: unknown): boolean {
  return err instanceof Error && /^ERR Function not found/i.test(err.message)
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
