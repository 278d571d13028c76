import t from 'tap'
import { freePort } from '../../fixtures/poll.js'
import { cliRun } from '../run-cli.js'

// Flags the CLI checks itself: a bad one is a usage error (exit 2) named before anything is sent,
// so these runs point at a closed port.
const url = `http://127.0.0.1:${await freePort()}`

const usage: [string[], string | RegExp][] = [
  [['agent', 'run', '--agent-id', 'a', '--type', 'w', '--exec'], 'say what runs each task: agent run ... --exec COMMAND [ARGS...]'],
  [['agent', 'run', '--agent-id', 'a', '--type', 'w', '--metadata', '[1]', '--exec', '--', 'true'], '--metadata expects a JSON object, e.g. --metadata \'{"region":"eu-west-1"}\''],
  [['agent', 'run', '--agent-id', 'a', '--type', 'w', '--concurrency', '0', '--exec', '--', 'true'], '--concurrency expects a whole number from 1 to 1000 (got "0")'],
  [['agent', 'run', '--agent-id', 'a', '--type', 'w', '--http-port', '70000', '--exec', '--', 'true'], '--http-port expects a whole number from 0 to 65535 (got "70000")'],
  [['message', 'hi'], 'say who gets it: --to NODE|all (receipts) or --target NODE|all (seed 000 report)'],
  [['message', '--to', 'all', '--ttl', '1.5', 'hi'], '--ttl expects whole milliseconds, e.g. --ttl 60000'],
  [['messages', 'inbox', '--limit', '-1'], '--limit expects whole milliseconds, e.g. --limit 60000'],
  [['tasks', 'submit', '--data', '[]'], '--data expects a JSON object, e.g. --data \'{"model":"llama2","prompt":"hi"}\''],
  [['agents', 'update-status', '--agent-id', 'a', '--status', 'busy', '--load-metrics', 'x'], '--load-metrics expects a JSON object'],
  [['tasks', 'get'], /missing required argument 'id'/],
  [['no-such-command'], /unknown command 'no-such-command'/],
]

for (const [args, message] of usage) {
  t.test(args.join(' '), async (t) => {
    const run = await cliRun(['--url', url, ...args])
    t.equal(run.code, 2, 'a usage error')
    t.match(run.stderr, message)
    t.notMatch(run.stderr, /cannot reach/, 'refused before any request')
  })
}

t.test('--json turns a usage error the CLI names into JSON on stdout', async (t) => {
  const run = await cliRun(['--url', url, '--json', 'message', 'hi'])
  t.equal(run.code, 2)
  t.match(JSON.parse(run.stdout), { status: 'error', code: 'ERR_CLI', message: /say who gets it/ })
})

t.test('--version and help are no errors', async (t) => {
  const version = await cliRun(['--version'])
  t.equal(version.code, 0)
  t.match(version.stdout, /^\d+\.\d+\.\d+/)
  const help = await cliRun(['help', 'tasks'])
  t.equal(help.code, 0)
  t.match(help.stdout, /submit \[options\]/)
})
