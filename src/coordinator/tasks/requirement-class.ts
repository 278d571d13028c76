import { createHash } from 'node:crypto'
import type { Requirements } from './task.js'

/**
 * A requirement class: the part of a task's requirements that decides which
 * agents may take it (type, capabilities, services, health), in one canonical
 * form. Tasks are queued per class, so an agent looks only at the queues of
 * the classes it can take. Region is a preference of the geographic strategy,
 * not a filter, so it is not part of the class.
 */
export interface RequirementClass {
  /** '' for tasks any agent can take; otherwise 16 hex digits of the canonical form's SHA-256. */
  id: string
  /** The canonical form (JSON) the claim scripts match agents against; '' for the empty class. */
  json: string
}

export function requirementClassOf(req: Requirements): RequirementClass {
  const canonical: Record<string, unknown> = {}
  if (req.agent_type !== undefined) canonical.agent_type = req.agent_type
  const caps = [...new Set(req.capabilities ?? [])].sort()
  if (caps.length > 0) canonical.capabilities = caps
  const services = [...new Set(req.services ?? [])].sort()
  if (services.length > 0) canonical.services = services
  if (req.min_health_score !== undefined && req.min_health_score > 0) canonical.min_health_score = req.min_health_score
  if (Object.keys(canonical).length === 0) return { id: '', json: '' }
  const json = JSON.stringify(canonical)
  return { id: createHash('sha256').update(json).digest('hex').slice(0, 16), json }
}
