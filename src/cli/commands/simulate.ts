import type { Command } from 'commander'
import { DEFAULT_BASE_HEIGHT, DEFAULT_BLOCK_MS, simulateService, startSimulatedChain } from '../../daemon/entry.js'
import type { CliIo } from '../output.js'

/** `aitbc-node simulate-chain` and `simulate-service`: a chain and its service manager for nodes without a chain. */
export function simulateCommands(program: Command, io: CliIo): void {
  program
    .command('simulate-chain')
    .description('serve a simulated AITBC chain RPC (GET /rpc/head, /rpc/mempool, /health) for a node without a chain; never part of a daemon')
    .option('--port <port>', 'port on 127.0.0.1 (0 picks one)', '8006')
    .option('--epoch <ms>', `ms since the epoch at which the chain was at height ${DEFAULT_BASE_HEIGHT} (chains with one epoch agree)`, String(Date.now()))
    .option('--block-ms <ms>', 'one block every this many ms', String(DEFAULT_BLOCK_MS))
    .option('--lag <n>', 'start n blocks behind, stuck until POST /sim/restart', '0')
    .action(async (o: { port: string, epoch: string, blockMs: string, lag: string }) => {
      const chain = await startSimulatedChain({
        port: Number(o.port), epochMs: Number(o.epoch), blockMs: Number(o.blockMs), lag: Number(o.lag),
      })
      io.out(`simulated chain RPC at ${chain.url} (height ${chain.height()}); set chain.rpcUrl=${chain.url}\n`)
    })

  program
    .command('simulate-service')
    .description('the service-manager stand-in for a simulated chain: restart|start|is-active|health SERVICE (what systemctl would do)')
    .requiredOption('--chain-url <url>', 'the simulated chain RPC')
    .argument('<verb>')
    .argument('<service>')
    .action(async (verb: string, service: string, o: { chainUrl: string }) => {
      io.exitCode = await simulateService(o.chainUrl, verb, service)
    })
}
