import { type ConfigFlags, loadConfig } from './config/load.js'
import { startDaemon } from './daemon.js'
import { createLogRoot } from './logger.js'

/**
 * `aitbc-node daemon`: start, then wait for signals. SIGTERM/SIGINT drain and
 * stop (a second one exits at once); SIGHUP re-reads the configuration and
 * applies what can change at run time.
 */
export async function runDaemon(flags: ConfigFlags): Promise<void> {
  let loaded: ReturnType<typeof loadConfig>
  try {
    loaded = loadConfig({ flags, env: process.env })
  } catch (err) {
    process.stderr.write(`aitbc-node: ${(err as Error).message}\n`)
    process.exit(2)
  }
  const logs = createLogRoot(loaded.config.log.level)
  const log = logs.component('daemon')
  for (const w of loaded.warnings) log.warn(w)
  if (loaded.file !== null) log.info({ file: loaded.file }, 'configuration read')

  let daemon: Awaited<ReturnType<typeof startDaemon>>
  try {
    daemon = await startDaemon(loaded.config, logs)
  } catch (err) {
    const message = (err as { code?: string }).code?.startsWith('ERR_') ? (err as Error).message : String(err)
    log.fatal({ err }, `start failed: ${message}`)
    process.stderr.write(`aitbc-node: start failed: ${message}\n`)
    process.exit(1)
  }

  let stopping = false
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting at once')
      process.exit(1)
    }
    stopping = true
    log.info({ signal }, 'draining: new requests get 503, in-flight requests finish')
    const hardStop = setTimeout(() => {
      log.error('shutdown timed out; exiting')
      process.exit(1)
    }, loaded.config.coordinator.shutdownTimeoutMs + 5000)
    hardStop.unref()
    daemon
      .stop()
      .then(() => {
        log.info('stopped')
        process.exit(0)
      })
      .catch((err) => {
        log.error({ err }, 'stop failed')
        process.exit(1)
      })
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)
  process.on('SIGHUP', () => {
    try {
      const next = loadConfig({ flags, env: process.env }).config
      const reloaded: string[] = []
      if (next.log.level !== loaded.config.log.level) {
        logs.setLevel(next.log.level)
        reloaded.push(`log.level ${loaded.config.log.level} -> ${next.log.level}`)
      }
      const needRestart = (Object.keys(next) as (keyof typeof next)[]).filter(
        (k) => k !== 'log' && JSON.stringify(next[k]) !== JSON.stringify(loaded.config[k]),
      )
      loaded = { ...loaded, config: next }
      log.info(
        { reloaded, needs_restart: needRestart },
        `SIGHUP: reloaded ${reloaded.length === 0 ? 'nothing changed' : reloaded.join(', ')}`,
      )
    } catch (err) {
      log.error({ err: (err as Error).message }, 'SIGHUP: configuration invalid; keeping the running one')
    }
  })
}
