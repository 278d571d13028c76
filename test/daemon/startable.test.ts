import t from 'tap'
import { ServiceGraph, type Startable } from '../../src/daemon/startable.js'

function recorder(calls: string[], name: string, fail?: 'start'): Startable {
  return {
    start: async () => {
      calls.push(`start ${name}`)
      if (fail === 'start') throw new Error(`${name} cannot start`)
    },
    afterStart: () => {
      calls.push(`afterStart ${name}`)
    },
    beforeStop: () => {
      calls.push(`beforeStop ${name}`)
    },
    stop: () => {
      calls.push(`stop ${name}`)
    },
  }
}

t.test('starts in order, then every afterStart; stops every beforeStop in reverse, then every stop', async (t) => {
  const calls: string[] = []
  const graph = new ServiceGraph(() => t.fail('no stop fails'))
  graph.add('a', recorder(calls, 'a'))
  graph.add('b', recorder(calls, 'b'))
  await graph.start()
  await graph.start()
  t.same(calls, ['start a', 'start b', 'afterStart a', 'afterStart b'], 'a second start does nothing')
  calls.length = 0
  await graph.stop()
  await graph.stop()
  t.same(calls, ['beforeStop b', 'beforeStop a', 'stop b', 'stop a'], 'a second stop does nothing')
})

t.test('a stop before start does nothing', async (t) => {
  const calls: string[] = []
  const graph = new ServiceGraph(() => t.fail('no stop fails'))
  graph.add('a', recorder(calls, 'a'))
  await graph.stop()
  t.same(calls, [])
})

t.test('a failed start stops what had started, in reverse, and rethrows', async (t) => {
  const calls: string[] = []
  const graph = new ServiceGraph(() => t.fail('no stop fails'))
  graph.add('a', recorder(calls, 'a'))
  graph.add('b', recorder(calls, 'b'))
  graph.add('c', recorder(calls, 'c', 'start'))
  graph.add('d', recorder(calls, 'd'))
  await t.rejects(graph.start(), /c cannot start/)
  t.same(calls, ['start a', 'start b', 'start c', 'beforeStop b', 'beforeStop a', 'stop b', 'stop a'])
})

t.test('one service failing to stop does not keep the others running', async (t) => {
  const calls: string[] = []
  const failed: string[] = []
  const graph = new ServiceGraph((name) => failed.push(name))
  graph.add('a', recorder(calls, 'a'))
  graph.add('b', { start: () => {}, stop: () => {
    throw new Error('stuck')
  } })
  await graph.start()
  await graph.stop()
  t.same(failed, ['b'])
  t.ok(calls.includes('stop a'), 'a stopped after b failed to')
})
