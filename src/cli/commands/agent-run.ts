import type { Command } from 'commander'
import { DEFAULT_CONCURRENCY } from '../../agent/defaults.js'
import { CliError } from '../api-client.js'
import { commaList, jsonObject, wholeNumber } from '../arguments.js'
import type { TargetOf } from '../output.js'

const collect = (v: string, prev: string[] = []): string[] => [...prev, ...commaList(v)]

interface RunFlags {
  agentId: string
  type: string
  capabilities: string[]
  services: string[]
  metadata?: string
  coordinatorUrl?: string[]
  concurrency?: string
  exec?: boolean
  httpPort?: string
  httpHost?: string
  publicUrl?: string
}

/**
 * `aitbc-node agent run`: the AgentWorker as a command, for agents not
 * written in TypeScript. Each task's task_data goes to COMMAND's stdin as
 * JSON and its stdout is the result; or, with --http-port, the worker serves
 * seed 001's push (POST /tasks/execute) and runs COMMAND for each push.
 */
export function agentRunCommand(agent: Command, target: TargetOf): void {
  agent
    .command('run')
    .description('run an agent: register, heartbeat, take tasks and run COMMAND for each (task_data on stdin, result on stdout)')
    .requiredOption('--agent-id <id>', 'agent id')
    .requiredOption('--type <type>', 'agent type, e.g. worker')
    .option('--capabilities <list>', 'comma-separated capabilities', commaList, [])
    .option('--services <list>', 'comma-separated services', commaList, [])
    .option('--metadata <json>', 'metadata as JSON (region, weight, ...)')
    .option('--coordinator-url <url>', 'a daemon API URL, repeatable or comma-separated (the operator guide\'s spelling of --url)', collect)
    .option('--concurrency <n>', `tasks run at once (default ${DEFAULT_CONCURRENCY})`)
    .option('--exec', 'run the command given after the flags for each task (put -- before it if its arguments start with -)')
    .option('--http-port <port>', 'serve seed 001\'s push (POST /tasks/execute) on this port instead of polling')
    .option('--http-host <host>', 'address for --http-port', '127.0.0.1')
    .option('--public-url <url>', 'the URL daemons push to (default http://HOST:PORT)')
    .argument('[command...]', 'the command run for each task')
    .action(async (command: string[], o: RunFlags, cmd: Command) => {
      const t = target(cmd)
      if (command.length === 0) throw new CliError('say what runs each task: agent run ... --exec COMMAND [ARGS...]', 2)
      const { AgentWorker, execProcessor } = await import('../../agent/index.js')
      const worker = new AgentWorker({
        urls: o.coordinatorUrl ?? t.urls,
        token: t.token,
        registration: {
          agent_id: o.agentId,
          agent_type: o.type,
          capabilities: o.capabilities,
          services: o.services,
          metadata: jsonObject('metadata', o.metadata, '{"region":"eu-west-1"}') ?? {},
        },
        processor: execProcessor(command),
        concurrency: wholeNumber('concurrency', o.concurrency, 1, 1000) ?? DEFAULT_CONCURRENCY,
        // Port 0 picks a free one; the registered endpoint says which.
        push: o.httpPort === undefined ? undefined : { port: wholeNumber('http-port', o.httpPort, 0, 65535)!, host: o.httpHost, publicUrl: o.publicUrl },
      })
      const say = (line: string): void => {
        t.io.out(`${new Date().toISOString()} ${line}\n`)
      }
      worker.on('completed', (task) => say(`completed ${task.task_id}`))
      worker.on('failed', (task, err) => say(`failed ${task.task_id}: ${err.message}`))
      worker.on('error', (err) => say(`error: ${err.message}`))
      worker.on('recovered', () => say(`the coordinator answers again (${worker.url})`))
      let stopping = false
      const stop = (): void => {
        if (stopping) process.exit(1)
        stopping = true
        say('closing: no new tasks; running ones finish (Ctrl-C again to quit at once)')
        void worker.close().then(() => process.exit(0))
      }
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
      await worker.run()
      say(`agent ${o.agentId} registered on ${worker.url}; ${o.httpPort === undefined ? 'polling' : 'serving push'} for tasks`)
    })
}
