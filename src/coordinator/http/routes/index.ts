import type { RouteSpec } from '../route-table.js'
import { agentRoutes } from './agents.js'
import { daemonRoutes, openRoutes } from './daemon.js'
import { messageRoutes } from './messages.js'
import { nodeRoutes } from './nodes.js'
import { opsRoutes } from './ops.js'
import { taskRoutes } from './tasks.js'

/** The limits that shape the request schemas (the daemon's config). */
export interface RouteLimits {
  maxTaskTimeoutMs: number
  maxOpsTimeoutMs: number
  maxMessageTtlMs: number
}

/** Every route of the API, in the order app.ts mounts them: the table the OpenAPI document is made from. */
export function routeTable(l: RouteLimits): RouteSpec[] {
  return [
    ...openRoutes(),
    ...agentRoutes(),
    ...nodeRoutes(),
    ...messageRoutes({ maxTtlMs: l.maxMessageTtlMs }),
    ...taskRoutes({ maxTimeoutMs: l.maxTaskTimeoutMs }),
    ...opsRoutes({ maxTimeoutMs: l.maxOpsTimeoutMs }),
    ...daemonRoutes(),
  ]
}
