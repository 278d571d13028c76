import { randomBytes } from 'node:crypto'

/**
 * Task ids are UUIDv7 (RFC 9562): 48 bits of milliseconds, then random bits.
 * They sort by submission, and an id that is no longer stored tells when it
 * was made, so GET /tasks/:id can say "expired" rather than "never existed".
 */
export function newTaskId(now = Date.now()): string {
  const b = randomBytes(16)
  b.writeUIntBE(now, 0, 6)
  b[6] = 0x70 | (b[6]! & 0x0f)
  b[8] = 0x80 | (b[8]! & 0x3f)
  const h = b.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

/** When a UUIDv7 task id was made (ms); null for any other id. */
export function taskIdTime(id: string): number | null {
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.exec(id)
  if (m === null) return null
  return Number.parseInt(m[1]! + m[2]!, 16)
}
