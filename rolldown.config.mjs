/**
 * The daemon command as one file: `dist/daemon/run-daemon.bundle.js`, made from
 * tsc's output with its dependencies inlined. Node loads it in about a third of
 * the time it takes to resolve, read and link the ~1,000 modules it is made of
 * (bench:serf's join time starts with that load). The client commands keep
 * loading their few modules unbundled.
 *
 * Left out: ssh2 (native addons, loaded from node_modules when an SSH step runs).
 * The bundle sits beside run-daemon.js, so import.meta.url-relative paths
 * (../../package.json, ../ui) resolve as they do unbundled.
 */
import { defineConfig } from 'rolldown'

export default defineConfig({
  input: 'dist/daemon/run-daemon.js',
  platform: 'node',
  external: ['ssh2'],
  output: { file: 'dist/daemon/run-daemon.bundle.js', format: 'esm', sourcemap: true },
  onLog(level, log, handler) {
    // depd (a Koa dependency) calls eval to name deprecated functions; known and harmless here.
    if (log.code === 'EVAL') return
    handler(level, log)
  },
})
