import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Logger } from 'pino'

/** redis-server is not on this machine. */
export class RedisServerMissingError extends Error {
  readonly code = 'ERR_REDIS_SERVER_MISSING'
}

/** Options of the embedded Redis. */
export interface EmbeddedRedisInit {
  /** Directory for the AOF, the socket and the pid file. */
  dir: string
  /** Also listen on 127.0.0.1:port (0 = unix socket only). */
  port: number
  /** The redis-server executable (default: found on PATH). */
  binary: string
  log: Logger
  /** How long a start may take before it fails (default DEFAULT_START_TIMEOUT_MS). */
  startTimeoutMs?: number
}

/**
 * How long redis-server may take to say it is ready: it starts in well under
 * a second unless it is loading a large dump, and a start that hangs should
 * fail the daemon's start rather than leave it waiting forever.
 */
export const DEFAULT_START_TIMEOUT_MS = 10_000

const READY = /ready to accept connections/i

/**
 * A redis-server owned by this daemon: loopback/unix socket only, AOF on,
 * restarted with capped backoff if it dies, stopped on shutdown.
 */
export class EmbeddedRedis {
  private child: ChildProcess | undefined
  private stopping = false
  private started = false
  private restarts = 0
  private restartTimer: NodeJS.Timeout | undefined
  private readonly init: EmbeddedRedisInit
  /** The URL clients connect with (the unix socket). */
  readonly url: string
  private readonly socket: string
  private readonly pidFile: string

  constructor(init: EmbeddedRedisInit) {
    this.init = init
    this.socket = join(init.dir, 'redis.sock')
    this.pidFile = join(init.dir, 'redis.pid')
    this.url = `unix://${this.socket}`
  }

  /** PID of the running redis-server, if any. */
  get pid(): number | undefined {
    return this.child?.pid
  }

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    mkdirSync(this.init.dir, { recursive: true, mode: 0o700 })
    await this.stopLeftover()
    this.stopping = false
    await this.spawnOnce()
    this.init.log.info(
      { socket: this.socket, port: this.init.port || null, dir: this.init.dir, redis_pid: this.pid },
      'embedded redis-server started (AOF on); multi-node clusters need a shared REDIS_URL instead',
    )
  }

  /** A redis-server left behind by a daemon that was SIGKILLed holds our AOF; stop it first. */
  private async stopLeftover(): Promise<void> {
    let pid: number
    try {
      pid = Number(readFileSync(this.pidFile, 'utf8').trim())
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('redis-server')) return
    } catch {
      return
    }
    this.init.log.warn({ redis_pid: pid }, 'stopping a redis-server left running by an earlier daemon')
    process.kill(pid, 'SIGTERM')
    const deadline = Date.now() + 5000
    while (Date.now() < deadline) {
      try {
        process.kill(pid, 0)
      } catch {
        return
      }
      await new Promise((r) => setTimeout(r, 50))
    }
    process.kill(pid, 'SIGKILL')
  }

  private spawnOnce(): Promise<void> {
    const args = [
      '--port', String(this.init.port),
      '--bind', '127.0.0.1',
      '--unixsocket', this.socket,
      '--unixsocketperm', '700',
      '--dir', this.init.dir,
      '--pidfile', this.pidFile,
      '--appendonly', 'yes',
      '--appendfsync', 'everysec',
      '--save', '',
      '--daemonize', 'no',
      '--protected-mode', 'yes',
      '--maxmemory-policy', 'noeviction',
      '--logfile', '',
    ]
    // Its own process group: a Ctrl-C in the terminal must not kill Redis
    // while the daemon is still draining; the daemon stops it last.
    const child = spawn(this.init.binary, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    this.child = child
    const timeoutMs = this.init.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS
    return new Promise<void>((resolve, reject) => {
      let ready = false
      let output = ''
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(
          new Error(
            `embedded redis-server did not become ready within ${timeoutMs} ms: ${output.slice(-500)}`,
          ),
        )
      }, timeoutMs)
      const onData = (buf: Buffer): void => {
        output = (output + buf.toString()).slice(-4000)
        if (!ready && READY.test(output)) {
          ready = true
          clearTimeout(timer)
          this.restarts = 0
          resolve()
        }
      }
      child.stdout?.on('data', onData)
      child.stderr?.on('data', onData)
      child.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer)
        if (err.code === 'ENOENT') {
          reject(
            new RedisServerMissingError(
              `${this.init.binary} is not installed: run "apt-get install -y redis-server" as root, or set REDIS_URL to a shared Redis`,
            ),
          )
        } else reject(err)
      })
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        if (!ready) {
          reject(
            new Error(
              `embedded redis-server exited during start (code ${code}, signal ${signal}): ${output.slice(-500)}`,
            ),
          )
          return
        }
        if (!this.stopping) this.scheduleRestart(code, signal)
      })
    })
  }

  private scheduleRestart(code: number | null, signal: NodeJS.Signals | null): void {
    const delay = Math.min(100 * 2 ** this.restarts, 5000)
    this.restarts++
    this.init.log.error({ code, signal, restart_in_ms: delay }, 'embedded redis-server died; restarting it')
    this.restartTimer = setTimeout(() => {
      this.spawnOnce()
        .then(() =>
          this.init.log.info({ redis_pid: this.pid }, 'embedded redis-server restarted; AOF replayed'),
        )
        .catch((err) => {
          this.init.log.error({ err }, 'embedded redis-server failed to restart')
          if (!this.stopping) this.scheduleRestart(null, null)
        })
    }, delay)
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    this.stopping = true
    clearTimeout(this.restartTimer)
    const child = this.child
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGTERM')
    const killTimer = setTimeout(() => child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(killTimer)
    this.child = undefined
  }
}
