import { readdirSync, readFileSync } from 'node:fs'
import t from 'tap'

// The daemon runs from this one file (see rolldown.config.mjs); the build makes it before the tests run.
const bundle = readFileSync(new URL('../../dist/daemon/run-daemon.bundle.js', import.meta.url), 'latin1')

t.test('the daemon bundle is ASCII, so V8 keeps its source as one-byte text (half the heap of two-byte)', async (t) => {
  const at = bundle.search(/[^\x00-\x7f]/)
  t.equal(at, -1, at === -1 ? 'ASCII only' : `non-ASCII byte at ${at}: ${JSON.stringify(bundle.slice(Math.max(0, at - 60), at + 20))}`)
})

t.test('the daemon bundle carries no comments or indentation, and keeps function names for stack traces', async (t) => {
  t.ok(bundle.length < 3_300_000, `${bundle.length} bytes (2.8 MB when written without whitespace; 3.6 MB with it)`)
  t.notOk(bundle.includes('//#region'), 'no module region comments')
  t.ok(bundle.split('\n').length < 5000, 'a few long lines, not one per source line (V8 keeps an index of line ends too)')
  t.match(bundle, /function createCoordinatorApp\(/, 'names are not mangled')
})

t.test('the Lua scripts the bundle reads at run time sit beside it, as in src/', async (t) => {
  const src = new URL('../../src/coordinator/store/lua/', import.meta.url)
  const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.lua'))
  t.ok(files.length > 20, `${files.length} scripts and includes`)
  for (const dir of ['../../dist/daemon/lua/', '../../dist/coordinator/store/lua/']) {
    const copy = new URL(dir, import.meta.url)
    const missing = files.filter((f) => {
      try {
        return readFileSync(new URL(f, copy), 'utf8') !== readFileSync(new URL(f, src), 'utf8')
      } catch {
        return true
      }
    })
    t.same(missing, [], `every script, as in src/, in ${dir.slice(6)}`)
  }
})
