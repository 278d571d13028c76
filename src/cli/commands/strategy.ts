import type { Command } from 'commander'
import { callApi } from '../api-client.js'
import { print, type TargetOf } from '../output.js'

/** `aitbc-node strategy get|set`: the load-balancing strategy all daemons share. */
export function strategyCommands(program: Command, target: TargetOf): void {
  const strategy = program.command('strategy').description('the load-balancing strategy all daemons share')
  strategy.command('get').action(async (_o, cmd: Command) => {
    const t = target(cmd)
    const res = await callApi(t, 'GET', '/load-balancer/strategy')
    print(t, res, () => `${res.strategy} (available: ${(res.available as string[]).join(', ')})`)
  })
  strategy.command('set').argument('<strategy>', 'least_connections, round_robin, weighted_round_robin, resource_based, geographic or random')
    .action(async (name: string, _o, cmd: Command) => {
      const t = target(cmd)
      const res = await callApi(t, 'PUT', '/load-balancer/strategy', { strategy: name })
      print(t, res, () => String(res.message))
    })
}
