/**
 * The daemon command as one file: `dist/daemon/run-daemon.bundle.js`, made from
 * tsc's output with its dependencies inlined. Node loads it in about a third of
 * the time it takes to resolve, read and link the ~1,000 modules it is made of
 * (bench:serf's join time starts with that load). `aitbc-node daemon` loads it
 * through src/daemon/entry.ts; the client commands (src/cli) keep loading
 * their few modules unbundled.
 *
 * Written as ASCII without whitespace or comments (names kept, nothing else
 * rewritten): V8 keeps a script's whole source in the heap for as long as the
 * process runs, and one non-ASCII character anywhere (a dash in a library's
 * comment) made it keep all 3.6 MB as two-byte text, 6.9 MB of an idle
 * daemon's 32 MB heap. Now 2.8 MB as one-byte text: 3.6 MB less RSS and
 * about 40 ms less start. Stack traces keep function names; their positions
 * are in run-daemon.bundle.js.map.
 *
 * Left out: ssh2 (native addons, loaded from node_modules when an SSH step runs).
 * The bundle sits beside run-daemon.js, so import.meta.url-relative paths
 * (../../package.json, ../ui) resolve as they do unbundled.
 *
 * The Lua scripts are read at run time from a lua/ folder beside the module
 * that reads them (src/coordinator/store/lua-files.ts). tsc does not copy
 * them, so the build copies the folder beside tsc's output of that module
 * and beside the bundle, which runs it from dist/daemon/.
 */
import { cpSync, rmSync } from 'node:fs'
import { defineConfig } from 'rolldown'

const lua = 'src/coordinator/store/lua'
for (const to of ['dist/coordinator/store/lua', 'dist/daemon/lua']) {
  // A script removed from src/ must not linger in a copy.
  rmSync(to, { recursive: true, force: true })
  cpSync(lua, to, { recursive: true })
}

export default defineConfig({
  input: 'dist/daemon/run-daemon.js',
  platform: 'node',
  external: ['ssh2'],
  output: {
    file: 'dist/daemon/run-daemon.bundle.js',
    format: 'esm',
    sourcemap: true,
    charset: 'ascii',
    comments: false,
    minify: { compress: false, mangle: false, codegen: { removeWhitespace: true } },
  },
  onLog(level, log, handler) {
    // depd (a Koa dependency) calls eval to name deprecated functions; known and harmless here.
    if (log.code === 'EVAL') return
    handler(level, log)
  },
})
