import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { ConfigError, loadConfig, redactConfig } from '../../src/daemon/config/load.js'

const dir = mkdtempSync(join(tmpdir(), 'aitbc-config-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const file = (name: string, text: string): string => {
  const p = join(dir, name)
  writeFileSync(p, text)
  return p
}
const EXAMPLE = fileURLToPath(new URL('../../config/aitbc-node.example.yaml', import.meta.url))

t.test('defaults follow the design (docs/configuration.md)', async (t) => {
  const { config } = loadConfig({ env: {} })
  t.equal(config.coordinator.port, 9001)
  t.equal(config.coordinator.host, '0.0.0.0')
  t.equal(config.p2p.listen, '/ip4/0.0.0.0/tcp/7070')
  t.equal(config.redis.url, null, 'no URL means embedded Redis')
  t.equal(config.log.level, 'info')
  t.equal(config.node.dataDir, '/var/lib/aitbc/node')
  t.ok(Object.isFrozen(config) && Object.isFrozen(config.coordinator), 'frozen')
})

t.test('the commented example file is valid', async (t) => {
  const { config, file: used } = loadConfig({ flags: { config: EXAMPLE }, env: {} })
  t.equal(used, EXAMPLE)
  t.equal(config.node.name, 'genesis')
  t.equal(config.p2p.peers[0]?.name, 'follower')
})

t.test('environment overrides the file; flags override both', async (t) => {
  const f = file('a.yaml', 'coordinator:\n  port: 9100\nlog:\n  level: warn\nnode:\n  name: fromfile\n')
  const env = { AITBC_COORDINATOR_PORT: '9200', AITBC_LOG_LEVEL: 'DEBUG', AITBC_NODE_NAME: 'fromenv' }
  let { config } = loadConfig({ flags: { config: f }, env })
  t.equal(config.coordinator.port, 9200)
  t.equal(config.log.level, 'debug', 'the guide writes INFO; levels are case-insensitive')
  t.equal(config.node.name, 'fromenv')
  ;({ config } = loadConfig({
    flags: { config: f, port: '9300', name: 'fromflag', set: ['log.level="error"'] },
    env,
  }))
  t.equal(config.coordinator.port, 9300)
  t.equal(config.node.name, 'fromflag')
  t.equal(config.log.level, 'error')
})

t.test('REDIS_URL and AITBC_REDIS_URL are both honoured', async (t) => {
  t.equal(
    loadConfig({ env: { REDIS_URL: 'redis://10.1.223.93:6379/0' } }).config.redis.url,
    'redis://10.1.223.93:6379/0',
  )
  t.equal(loadConfig({ env: { AITBC_REDIS_URL: 'redis://a:6379' } }).config.redis.url, 'redis://a:6379')
  const both = loadConfig({ env: { AITBC_REDIS_URL: 'redis://a:6379', REDIS_URL: 'redis://b:6379' } })
  t.equal(both.config.redis.url, 'redis://a:6379')
  t.match(both.warnings, [/AITBC_REDIS_URL and REDIS_URL are both set and differ/])
  t.equal(
    loadConfig({ env: { REDIS_URL: 'redis://b:6379' }, flags: { redisUrl: 'redis://c:1' } }).config.redis.url,
    'redis://c:1',
  )
})

t.test('other environment variables', async (t) => {
  const { config } = loadConfig({
    env: {
      AITBC_DATA_DIR: '/srv/aitbc',
      AITBC_P2P_PORT: '7171',
      AITBC_API_TOKEN: 'env-token-0123456789abcdef',
      AITBC_PEERS: 'follower=/ip4/10.0.0.2/tcp/7070,aitbc1=10.0.0.3:7070',
      BLOCKCHAIN_RPC_URL: 'http://127.0.0.1:8006',
      AITBC_COORDINATOR_HOST: '127.0.0.1',
    },
  })
  t.equal(config.node.dataDir, '/srv/aitbc')
  t.equal(config.p2p.listen, '/ip4/0.0.0.0/tcp/7171')
  t.same(config.auth.tokens, [
    { name: 'AITBC_API_TOKEN', token: 'env-token-0123456789abcdef', scopes: ['admin'] },
  ])
  t.same(
    config.p2p.peers.map((p) => p.name),
    ['follower', 'aitbc1'],
  )
  t.equal(config.chain.rpcUrl, 'http://127.0.0.1:8006')
  t.equal(config.coordinator.host, '127.0.0.1')
  t.equal(
    loadConfig({ env: {}, flags: { p2pPort: '7272', peer: ['x=/ip4/1.2.3.4/tcp/1'] } }).config.p2p.listen,
    '/ip4/0.0.0.0/tcp/7272',
  )
})

// [what, how to load, pattern the error must match]
const bad: [string, Parameters<typeof loadConfig>[0], RegExp][] = [
  [
    'port not a number (env)',
    { env: { AITBC_COORDINATOR_PORT: 'abc' } },
    /coordinator\.port from env AITBC_COORDINATOR_PORT.*"abc"/,
  ],
  [
    'port out of range (flag)',
    { env: {}, flags: { port: '70000' } },
    /coordinator\.port from flag --port.*0-65535/,
  ],
  [
    'bad log level',
    { env: { AITBC_LOG_LEVEL: 'loud' } },
    /log\.level from env AITBC_LOG_LEVEL.*expected one of/,
  ],
  ['bad node name', { env: { AITBC_NODE_NAME: 'has space' } }, /node\.name.*letters, digits/],
  ['bad redis url', { env: { REDIS_URL: 'http://x' } }, /redis\.url from env REDIS_URL.*redis:\/\//],
  ['bad p2p port', { env: { AITBC_P2P_PORT: 'x' } }, /p2p\.listen from env AITBC_P2P_PORT/],
  ['bad peer spec', { env: { AITBC_PEERS: 'nonameaddress' } }, /AITBC_PEERS.*name=address/],
  ['unknown top-level key', { env: {}, flags: { set: ['nodes.name=x'] } }, /unknown config key nodes/],
  [
    'unknown nested key',
    { env: {}, flags: { set: ['coordinator.prot=1'] } },
    /unknown config key coordinator\.prot/,
  ],
  ['short token', { env: { AITBC_API_TOKEN: 'short' } }, /auth\.tokens\.0\.token.*at least 16/],
  [
    'bad scope',
    { env: {}, flags: { set: ['auth.tokens=[{"name":"a","token":"0123456789abcdef0","scopes":["root"]}]'] } },
    /scopes/,
  ],
  [
    'staleAfterMs too small',
    { env: {}, flags: { set: ['agents.staleAfterMs=5'] } },
    /agents\.staleAfterMs.*at least/,
  ],
  [
    'remove before stale',
    { env: {}, flags: { set: ['agents.staleAfterMs=5000', 'agents.removeAfterMs=1000'] } },
    /removeAfterMs/,
  ],
  [
    'offline before suspect',
    { env: {}, flags: { set: ['p2p.suspectAfterMs=5000', 'p2p.offlineAfterMs=4000'] } },
    /offlineAfterMs/,
  ],
  ['bad chain url', { env: { BLOCKCHAIN_RPC_URL: 'not a url' } }, /chain\.rpcUrl/],
  ['anonymous not boolean', { env: {}, flags: { set: ['auth.anonymous=maybe'] } }, /auth\.anonymous/],
  ['bad --set', { env: {}, flags: { set: ['novalue'] } }, /--set "novalue".*key=value/],
  [
    'missing file',
    { env: {}, flags: { config: '/nonexistent/aitbc.yaml' } },
    /\/nonexistent\/aitbc\.yaml cannot be read/,
  ],
]

t.test(
  'bad values and unknown keys are errors naming the key, its origin and the expected form',
  async (t) => {
    for (const [what, opts, pattern] of bad) {
      let caught: unknown
      try {
        loadConfig(opts)
      } catch (err) {
        caught = err
      }
      t.ok(caught instanceof ConfigError, `${what}: a ConfigError`)
      t.match((caught as Error | undefined)?.message, pattern, what)
    }
  },
)

t.test('file errors: invalid YAML, unknown key in file, tokens file', async (t) => {
  t.throws(() => loadConfig({ env: {}, flags: { config: file('bad.yaml', 'a: [1,\n') } }), /not valid YAML/)
  t.throws(
    () => loadConfig({ env: {}, flags: { config: file('u.yaml', 'redis:\n  urll: x\n') } }),
    /unknown config key redis\.urll in .*u\.yaml/,
  )
  const tokens = file('tokens.yaml', '- name: ci\n  token: ci-token-0123456789abcdef\n  scopes: [read]\n')
  const { config } = loadConfig({
    env: {},
    flags: { config: file('t.yaml', `auth:\n  tokensFile: ${tokens}\n`) },
  })
  t.same(
    config.auth.tokens.map((x) => x.name),
    ['ci'],
  )
})

t.test('redaction hides tokens and Redis passwords', async (t) => {
  const { config } = loadConfig({
    env: { AITBC_API_TOKEN: 'secret-token-0123456789', REDIS_URL: 'redis://user:hunter2@10.0.0.1:6379/0' },
  })
  const text = JSON.stringify(redactConfig(config))
  t.notMatch(text, /secret-token|hunter2/)
  t.match(text, /redis:\/\/user:\[redacted\]@10\.0\.0\.1:6379\/0/)
})

t.test('peers carry their peer id as name=addr@peerid or a /p2p/ multiaddr; a bad or doubled id is an error', async (t) => {
  const id = '12D3KooWDjnHqofKvWV7ABTGBLrFJebp7zydF5cmbeYbRXtpQdje'
  const other = '12D3KooWMYQp3pKZr6pMxaRRVXexDbxkNowyN74EGiGh8AXavQq4'
  const { config } = loadConfig({ env: { AITBC_PEERS: `genesis=10.0.0.1:7070@${id},follower=/ip4/10.0.0.2/tcp/7070/p2p/${other},aitbc1=10.0.0.3:7070` } })
  t.same(config.p2p.peers, [
    { name: 'genesis', address: '10.0.0.1:7070', peerId: id },
    { name: 'follower', address: '/ip4/10.0.0.2/tcp/7070', peerId: other },
    { name: 'aitbc1', address: '10.0.0.3:7070' },
  ])
  t.throws(() => loadConfig({ env: { AITBC_PEERS: 'genesis=10.0.0.1:7070@bob' } }), /p2p\.peers\.0\.peerId.*expected a peer id/)
  t.throws(() => loadConfig({ flags: { peer: [`genesis=/ip4/10.0.0.1/tcp/7070/p2p/${id}@${other}`] } }), /names two different peer ids/)
  t.throws(() => loadConfig({ flags: { set: ['p2p.insecure="yes"'] } }), /p2p\.insecure/)
})

t.test('a Redis Cluster needs a hash-tagged prefix; task retention and reclaim settings have defaults', async (t) => {
  const cluster = 'redis+cluster://127.0.0.1:7000,127.0.0.1:7001'
  t.throws(() => loadConfig({ env: { REDIS_URL: cluster } }), /redis\.prefix.*hash tag, e\.g\. "\{aitbc\}:"/)
  t.throws(() => loadConfig({ env: { REDIS_URL: cluster, AITBC_REDIS_PREFIX: 'aitbc:' } }), /hash tag/)
  const ok = loadConfig({ env: { REDIS_URL: cluster }, flags: { set: ['redis.prefix="{aitbc}:"'] } })
  t.equal(ok.config.redis.prefix, '{aitbc}:')
  const { config } = loadConfig({ env: {} })
  t.same(config.tasks.keepCompleted, { ageMs: 86_400_000, count: 10_000 })
  t.same(config.tasks.keepDead, { ageMs: 604_800_000, count: 10_000 })
  t.equal(config.tasks.reclaimIntervalMs, 1000)
  t.throws(() => loadConfig({ env: {}, flags: { set: ['tasks.keepCompleted={"ageMs": 10}'] } }), /tasks\.keepCompleted\.ageMs/)
})

t.test('tasks.pollIntervalMs is gone: a config that sets it fails, saying so and what to use', async (t) => {
  t.throws(() => loadConfig({ env: {}, flags: { set: ['tasks.pollIntervalMs=100'] } }), /config tasks\.pollIntervalMs from flag --set tasks\.pollIntervalMs: removed: nothing polls.*tasks\.reclaimIntervalMs/)
  const { config } = loadConfig({ env: {} })
  t.equal(config.tasks.reclaimIntervalMs, 1000)
  t.notOk('pollIntervalMs' in config.tasks)
})

t.test('p2p.psk was renamed: the old key fails naming p2p.pskFile; the env var fills the new key', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'aitbc-config-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'old.yaml')
  writeFileSync(file, 'p2p:\n  psk: /etc/aitbc/swarm.key\n')
  t.throws(() => loadConfig({ env: {}, flags: { config: file } }), new RegExp(`config p2p\\.psk from file ${file}: renamed to p2p\\.pskFile`))
  t.throws(() => loadConfig({ env: {}, flags: { set: ['p2p.psk="/k"'] } }), /p2p\.psk from flag --set p2p\.psk: .*write p2p\.pskFile instead/)
  t.equal(loadConfig({ env: { AITBC_P2P_PSK_FILE: '/etc/aitbc/swarm.key' } }).config.p2p.pskFile, '/etc/aitbc/swarm.key')
  t.equal(loadConfig({ env: {}, flags: { set: ['p2p.pskFile="/k"'] } }).config.p2p.pskFile, '/k')
})
