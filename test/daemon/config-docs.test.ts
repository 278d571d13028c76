import { readFileSync } from 'node:fs'
import t from 'tap'
import { configKeys, configReference } from '../../src/daemon/config/reference.js'
import { configSchema } from '../../src/daemon/config/schema.js'

const committed = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8')

t.test('docs/configuration.md is what the schema generates (npm run -s docs:config)', async (t) => {
  t.equal(committed, configReference(), 'run npm run -s docs:config and commit docs/configuration.md')
})

t.test('every key with a default is documented with that default and a meaning', async (t) => {
  const defaults = configSchema.parse({})
  const leaves = (tree: unknown, prefix: string): [string, unknown][] =>
    typeof tree === 'object' && tree !== null && !Array.isArray(tree) && Object.keys(tree).length > 0
      ? Object.entries(tree).flatMap(([k, v]) => leaves(v, prefix === '' ? k : `${prefix}.${k}`))
      : [[prefix, tree]]
  const docs = new Map(configKeys().map((d) => [d.key, d]))
  for (const [key, value] of leaves(defaults, '')) {
    const doc = docs.get(key)
    t.ok(doc, `${key} is documented`)
    if (doc === undefined) continue
    if (key !== 'node.name') t.equal(doc.default, `\`${JSON.stringify(value)}\``, `${key}'s default`)
    t.ok(doc.meaning.length > 10, `${key} says what it means`)
  }
  t.equal(docs.get('p2p.pskFile')?.env, 'AITBC_P2P_PSK_FILE')
  t.equal(docs.get('p2p.peers[].name')?.default, 'required')
  t.match(committed, /\| `tasks\.pollIntervalMs` \| removed: nothing polls/)
})
