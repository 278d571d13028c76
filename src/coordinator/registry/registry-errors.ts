import { CoordinatorError } from '../errors.js'

/** The agent is not in the registry. */
export class AgentNotFoundError extends CoordinatorError {
  constructor(agentId: string) {
    super('AGENT_NOT_FOUND', `agent ${agentId} is not registered`, 'register it with POST /agents/register')
    this.name = 'AgentNotFoundError'
  }
}

/** Redis, which holds the registry, does not answer. */
export class RegistryUnavailableError extends CoordinatorError {
  constructor(cause: unknown) {
    super(
      'REDIS_UNAVAILABLE',
      'the Redis registry is not reachable',
      'check that Redis is running and that redis.url (REDIS_URL) points at it; the daemon reconnects by itself',
      { cause },
    )
    this.name = 'RegistryUnavailableError'
  }
}
