import t from 'tap'
import { z } from 'zod'
import type { Mesh } from '../../src/p2p/index.js'
import { meshTestBed, rpcRejection, startTestMesh } from '../fixtures/mesh.js'
import { freePort, waitFor } from '../fixtures/poll.js'
import { captureWarnings } from '../fixtures/warnings.js'

const { client, dir } = await meshTestBed(t, 'rpc')

const ports = { alpha: await freePort(), beta: await freePort(), ghost: await freePort() }
const address = (n: keyof typeof ports) => `/ip4/127.0.0.1/tcp/${ports[n]}`

async function mesh(name: 'alpha' | 'beta'): Promise<Mesh> {
  const peers = (['alpha', 'beta', 'ghost'] as const).filter((p) => p !== name).map((p) => ({ name: p, address: address(p) }))
  const m = await startTestMesh({ name, dir, port: ports[name], peers, redis: client, prefix: 'rpc:' })
  t.teardown(() => m.stop())
  return m
}

const alpha = await mesh('alpha')
const beta = await mesh('beta')
let sawAbort = false
beta.rpc.register('echo', {
  params: z.strictObject({ text: z.string().max(100) }),
  handler: async ({ text }, ctx) => ({ echo: text, caller: ctx.peer }),
})
beta.rpc.register('fail', {
  params: z.null(),
  handler: async () => {
    throw Object.assign(new Error('git pull refused: local changes'), { code: 'ERR_GIT_CONFLICT' })
  },
})
beta.rpc.register('hang', {
  params: z.null(),
  handler: (_params, { signal }) => new Promise((_, reject) => {
    signal.addEventListener('abort', () => {
      sawAbort = true
      reject(new Error('aborted'))
    })
  }),
})
await waitFor('alpha hears beta', () => alpha.view.stateOf('beta') === 'online', { timeoutMs: 10_000 })

t.test('a typed call gets its result, and the callee learns who called', async (t) => {
  const res = await alpha.rpc.call('beta', 'echo', { text: 'hi' }, { timeoutMs: 15_000 })
  t.same(res, { echo: 'hi', caller: alpha.peerId })
})

t.test('an unknown method, bad params and a failing handler come back as named errors', async (t) => {
  const unknown = await rpcRejection(alpha.rpc.call('beta', 'nope', null, { timeoutMs: 15_000 }))
  t.match(unknown, { code: 'ERR_RPC_UNKNOWN_METHOD', node: 'beta', message: /no method nope; known: echo, fail, hang/ })
  const bad = await rpcRejection(alpha.rpc.call('beta', 'echo', { text: 5 }, { timeoutMs: 15_000 }))
  t.match(bad, { code: 'ERR_RPC_BAD_PARAMS', message: /params\.text/ })
  const failed = await rpcRejection(alpha.rpc.call('beta', 'fail', null, { timeoutMs: 15_000 }))
  t.match(failed, { code: 'ERR_GIT_CONFLICT', node: 'beta', message: /beta: git pull refused: local changes/ })
})

t.test('a call past its deadline fails at the deadline, and the callee is told to stop', async (t) => {
  const started = Date.now()
  const err = await rpcRejection(alpha.rpc.call('beta', 'hang', null, { timeoutMs: 300 }))
  t.match(err, { code: 'ERR_RPC_TIMEOUT', node: 'beta' })
  t.ok(Date.now() - started < 3000, 'did not wait much past the deadline')
  await waitFor('callee saw the abort', () => sawAbort)
})

t.test('a node that is down is reported unreachable by name', async (t) => {
  const err = await rpcRejection(alpha.rpc.call('ghost', 'echo', { text: 'x' }, { timeoutMs: 3000 }))
  t.match(err, { code: 'ERR_PEER_UNREACHABLE', node: 'ghost', message: /ghost/ })
})

t.test('twenty calls served at once (each listening for the service to stop) raise no listener-leak warning', async (t) => {
  const warnings = captureWarnings(t)
  let serving = 0
  let release = (): void => {}
  const released = new Promise<void>((r) => {
    release = r
  })
  beta.rpc.register('wait', {
    params: z.null(),
    handler: async () => {
      serving++
      await released
      return 'done'
    },
  })
  const calls = Array.from({ length: 20 }, () => alpha.rpc.call('beta', 'wait', null, { timeoutMs: 10_000 }))
  await waitFor('beta serves all twenty at once', () => serving === 20, { timeoutMs: 10_000 })
  release()
  t.same(await Promise.all(calls), Array.from({ length: 20 }, () => 'done'))
  await new Promise((r) => setImmediate(r))
  t.same(warnings.listenerLeaks(), [])
})
