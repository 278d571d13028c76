import { randomFillSync } from 'node:crypto'

let lastMs = 0
let seq = 0
// Random bytes are drawn 4 KiB at a time: one system call for 512 ids.
const pool = Buffer.alloc(4096)
let poolAt = pool.length

/**
 * Task ids are UUIDv7 (RFC 9562): 48 bits of milliseconds, a 12-bit counter
 * within the millisecond (RFC 9562 method 1), then random bits. Ids made by
 * one process sort in the order they were made, so tasks submitted in the
 * same millisecond keep their order in a queue (equal scores sort by id).
 * An id that is no longer stored still tells when it was made, so
 * GET /tasks/:id can say "expired" rather than "never existed".
 */
export function newTaskId(now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now
    seq = 0
  } else if (++seq > 0xfff) {
    lastMs++
    seq = 0
  }
  if (poolAt + 8 > pool.length) {
    randomFillSync(pool)
    poolAt = 0
  }
  const b = Buffer.alloc(16)
  pool.copy(b, 8, poolAt, poolAt + 8)
  poolAt += 8
  b.writeUIntBE(lastMs, 0, 6)
  b[6] = 0x70 | (seq >> 8)
  b[7] = seq & 0xff
  b[8] = 0x80 | (b[8]! & 0x3f)
  const h = b.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

/** Before this no task id of ours was made (2025-01-01). */
const FIRST_MS = 1_735_689_600_000

/** When a UUIDv7 task id was made (ms); null for any other id, or one whose time is before any of ours. */
export function taskIdTime(id: string): number | null {
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.exec(id)
  if (m === null) return null
  const ms = Number.parseInt(m[1]! + m[2]!, 16)
  return ms >= FIRST_MS ? ms : null
}
